"""The generic test `column_rules` (tests/generic/column_rules.sql) on real output tables.

A copy of a range build of the demo slice, then output rows are corrupted by hand and the model's
`<model>_column_rules` test is run: each corrupted row must come back once, labelled with the rule
it breaks, NULLs must pass the range and value rules, and a dated run must check only its window.
"""
from __future__ import annotations

import pytest

from dbt_harness import DbtProject, output_of

DAY, OTHER_DAY = "2021-11-30", "2021-11-29"
PSZA = "dev_nba_precompute.player_shot_zone_analysis"
MLFS = "dev_nba_predictions.ml_feature_store_v2"

# (SQL SET clause, broken_rule the test must report). Each applies to its own PSZA row of DAY.
PSZA_FAULTS = [
    ("paint_rate_last_10 = 150", "paint_rate_last_10 between 0 and 100"),
    ("paint_pct_last_10 = -0.1", "paint_pct_last_10 between 0 and 1"),
    ("data_hash = null", "data_hash is not null"),
    ("sample_quality_10 = 'great'", "sample_quality_10 in (excellent, good, limited, insufficient)"),
    # every rate in range, but they no longer add up to 100 (an expression rule with a `where`)
    ("paint_rate_last_10 = 0, mid_range_rate_last_10 = 0, three_pt_rate_last_10 = 0", "zone_rates_sum_to_100"),
    # breaks two rules: the first in declaration order (not_null, ranges, values, expressions) is reported
    ("early_season_flag = null, primary_scoring_zone = 'corner'", "early_season_flag is not null"),
]
# Rows that must pass: NULL is outside no range and no value list.
PSZA_NULLS = ["paint_pct_last_10 = null", "primary_scoring_zone = null"]


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory, range_build):
    # A copy of the session's range build (2021-11-26..11-30, which holds OTHER_DAY and DAY).
    project = DbtProject(tmp_path_factory.mktemp("column_rules"), range_build.db)
    players = [row[0] for row in project.query(
        f"select player_lookup from {PSZA} where analysis_date = date '{DAY}' and total_shots_last_10 > 0 "
        "order by player_lookup")]
    assert len(players) >= len(PSZA_FAULTS) + len(PSZA_NULLS) + 1
    expected = {}
    for (set_sql, rule), player in zip(PSZA_FAULTS, players):
        project.execute(f"update {PSZA} set {set_sql} where player_lookup = ? and analysis_date = date '{DAY}'", [player])
        expected[player] = rule
    for set_sql, player in zip(PSZA_NULLS, players[len(PSZA_FAULTS):]):
        project.execute(f"update {PSZA} set {set_sql} where player_lookup = ? and analysis_date = date '{DAY}'", [player])
    # A bad row outside the window of a run for DAY.
    project.execute(f"update {PSZA} set paint_rate_last_10 = 150 where analysis_date = date '{OTHER_DAY}'")
    # The feature store: one placeholder-rule breach, one quality score off the 0.2 grid.
    mlfs_player = project.query(
        f"select min(player_lookup) from {MLFS} where game_date = date '{DAY}' and not early_season_flag")[0][0]
    project.execute(f"update {MLFS} set feature_quality_score = 93.3 where player_lookup = ? and game_date = date '{DAY}'",
                    [mlfs_player])
    return project, expected, mlfs_player


def run_rules(project: DbtProject, test: str, window: str):
    result = project.dbt("test", "--select", test, "--vars", window, check=False)
    compiled = next((project.workdir / "target" / "compiled").rglob(f"{test}.sql")).read_text()
    return result, compiled


@pytest.mark.check
def test_each_broken_rule_is_reported_once_with_its_row(corrupted):
    project, expected, _ = corrupted
    result, compiled = run_rules(project, "player_shot_zone_analysis_column_rules", f"{{date: {DAY}}}")
    output = output_of(result)
    assert result.returncode != 0
    assert "Failure in test player_shot_zone_analysis_column_rules" in output, output[-2000:]
    assert f"Got {len(PSZA_FAULTS)} results" in output, output[-2000:]
    rows = project.query(f"select player_lookup, analysis_date, broken_rule from ({compiled}) as failures")
    assert {player: rule for player, _, rule in rows} == expected
    assert {str(day) for _, day, _ in rows} == {DAY}  # the bad row of OTHER_DAY is outside the run window


def test_a_run_without_window_checks_every_date(corrupted):
    project, expected, _ = corrupted
    result, compiled = run_rules(project, "player_shot_zone_analysis_column_rules", "{}")
    assert result.returncode != 0
    rows = project.query(f"select analysis_date, broken_rule from ({compiled}) as failures")
    other_day = [rule for day, rule in rows if str(day) == OTHER_DAY]
    assert other_day and set(other_day) == {"paint_rate_last_10 between 0 and 100"}
    assert len(rows) == len(expected) + len(other_day)


def test_expressions_of_the_feature_store_catch_an_off_grid_quality_score(corrupted):
    project, _, player = corrupted
    result, compiled = run_rules(project, "ml_feature_store_v2_column_rules", f"{{date: {DAY}}}")
    assert result.returncode != 0
    rows = project.query(f"select player_lookup, broken_rule from ({compiled}) as failures")
    assert rows == [(player, "quality_on_reachable_grid")]


def test_clean_tables_pass(corrupted):
    project, _, _ = corrupted
    result, _ = run_rules(project, "team_defense_zone_analysis_column_rules", f"{{date: {DAY}}}")
    assert result.returncode == 0, output_of(result)[-2000:]


def test_array_rules_of_the_feature_store_catch_broken_arrays(corrupted):
    """The array rules (dispatched macros, macros/cross_db/arrays.sql) each report their broken row:
    the compiled test runs on the table with four more rows corrupted in a subquery."""
    import re

    project, _, quality_player = corrupted
    _, compiled = run_rules(project, "ml_feature_store_v2_column_rules", f"{{date: {DAY}}}")
    players = [row[0] for row in project.query(
        f"select player_lookup from {MLFS} where game_date = date '{DAY}' and not early_season_flag"
        f" and player_lookup <> ? order by player_lookup limit 4", [quality_player])]
    features = {  # 1-based positions, as the rules
        players[0]: "list_transform(features, lambda x, i: case when i = 10 then 5.0 else x end)",
        players[1]: "list_transform(features, lambda x, i: case when i = 3 then 'nan'::double else x end)",
        players[3]: "features[1:24]",
    }
    sources = {players[2]: "list_transform(feature_sources, lambda s, i: case when i = 11 then 'phase4' else s end)"}

    def changed(column, changes):
        cases = " ".join(f"when '{player}' then {expression}" for player, expression in changes.items())
        return f"case player_lookup {cases} else {column} end as {column}"

    relation = re.search(r'"[^"]+"\."dev_nba_predictions"\."ml_feature_store_v2"', compiled).group(0)
    corrupted_sql = compiled.replace(
        relation, f"(select * replace ({changed('features', features)}, {changed('feature_sources', sources)})"
        f" from {MLFS})", 1)
    rows = project.query(f"select player_lookup, broken_rule from ({corrupted_sql}) as failures")
    assert dict(rows) == {
        quality_player: "quality_on_reachable_grid",
        players[0]: "feature_ranges",  # rest_advantage outside [-2, 2]
        players[1]: "computed_rows_have_25_features_none_null",  # a NaN feature
        players[3]: "computed_rows_have_25_features_none_null",  # 24 features
        players[2]: "calculated_and_context_features_keep_their_labels",  # injury_risk labelled phase4
    }
