"""Integration tests of ml_training_examples: labels, lines and outcomes against the raw sources,
leakage mutation tests, hash skipping and catch-up (one demo project, four dbt invocations).

The leakage tests run on the generated demo data:
  - changing every box score of the games on D changes only the labels of D's examples, never
    their features (the features were computed from games strictly before D);
  - changing the games of D - 1 changes the features of D's examples (the control: the first check
    could not pass by the features never changing).
Both checks are plain functions; `test_the_leakage_checks_catch_a_leaky_variant` runs them on a
deliberately leaky variant of the examples (points_avg_last_10 recomputed over the last 10 games
*including* D, the legacy defect) and on a frozen variant, and shows that each check fails there.
"""
from __future__ import annotations

from collections import namedtuple

import pytest

from dbt_harness import DbtProject, build_models, rows_written
from test_point_in_time import PGS, UPCOMING, rewrite_box_scores

EXAMPLES = "dev_nba_predictions.ml_training_examples"
D, DAY_BEFORE = "2021-11-20", "2021-11-19"
FEATURE_COLUMNS = ("features", "feature_names", "feature_version", "feature_quality_score", "quality_tier",
                   "data_source", "early_season_flag", "is_production_ready", "feature_sources", "default_feature_count",
                   "is_training_ready", "feature_data_hash")
LABEL_COLUMNS = ("played", "actual_points", "actual_minutes", "over_line", "push")
STATE_COLUMNS = FEATURE_COLUMNS + LABEL_COLUMNS + ("has_prop_line", "current_points_line", "data_hash",
                                                   "processed_at", "created_at")
Row = namedtuple("Row", STATE_COLUMNS)


V1 = "v1_baseline_25"
VERSIONS = 2  # each row of version 1 has a version-2 row with the same label (docs/feature_versions.md)


def examples_of(project: DbtProject, date: str, relation: str = EXAMPLES) -> dict:
    """{player_lookup: Row} of the version-1 examples of one date (relation: the model or a variant of it)."""
    rows = project.query(
        f"select player_lookup, {', '.join(STATE_COLUMNS)} from {relation} where game_date = date '{date}'"
        f" and feature_version = '{V1}'")
    return {row[0]: Row(*row[1:]) for row in rows}


def features_of(row: Row) -> tuple:
    return tuple(getattr(row, name) for name in FEATURE_COLUMNS)


def labels_of(row: Row) -> tuple:
    return tuple(getattr(row, name) for name in LABEL_COLUMNS)


# --- The two leakage checks ----------------------------------------------------------------------


def assert_features_unchanged(before: dict, after: dict) -> None:
    """After changing the games on D: the same examples, every feature column identical."""
    assert set(before) == set(after), "examples of D appeared or disappeared"
    leaked = sorted(key for key in before if features_of(before[key]) != features_of(after[key]))
    assert not leaked, f"{len(leaked)} examples of D changed features after editing games on D: {leaked[:5]}"


def assert_features_changed(before: dict, after: dict, players: set) -> None:
    """After changing the games of D - 1: the features of every given player's example of D changed."""
    stale = sorted(key for key in players if features_of(before[key]) == features_of(after[key]))
    assert not stale, f"{len(stale)} of {len(players)} examples of D kept their features after editing D - 1: {stale[:5]}"


# --- Independent expectations from the raw sources -----------------------------------------------


def raw_labels(project: DbtProject, date: str) -> dict:
    """{player: (played, points, minutes, line, has_box_score)} from the raw Phase 3 tables (latest processed_at per
    key), with the definitions of the issue: played = is_active and (minutes > 0 or points > 0)."""
    box = {}
    for player, game_id, active, minutes, points, processed in project.query(
            f"select player_lookup, game_id, is_active, minutes_played, points, processed_at from {PGS} "
            f"where game_date = date '{date}'"):
        if (player, game_id) not in box or processed > box[(player, game_id)][3]:
            box[(player, game_id)] = (active, minutes, points, processed)
    lines = {}
    for player, game_id, has_line, line, processed in project.query(
            f"select player_lookup, game_id, has_prop_line, current_points_line, processed_at from {UPCOMING} "
            f"where game_date = date '{date}'"):
        if (player, game_id) not in lines or processed > lines[(player, game_id)][2]:
            lines[(player, game_id)] = (has_line, line, processed)
    result = {}
    for (player, game_id), (has_line, line, _) in lines.items():
        active, minutes, points, _ = box.get((player, game_id), (None, None, None, None))
        played = bool(active) and ((minutes or 0) > 0 or (points or 0) > 0)
        result[player] = (played, points, minutes, line if has_line else None, (player, game_id) in box)
    return result


def expected_outcome(played, points, line):
    """(over_line, push) by the issue's definition: NULL without a line or when not played."""
    if not played or line is None:
        return None, None
    return points > line, points == line


# --- One project for the module -------------------------------------------------------------------

State = namedtuple("State", "project first second third catch_up leaky_before leaky_after raw_before")

LEAKY_VARIANT = f"""
create or replace view main.leaky_examples as
with last_10_through_d as (
    -- the legacy defect: the window includes the game on the example's own date
    select
        player_lookup,
        game_date,
        avg(points) over (partition by player_lookup order by game_date rows between 9 preceding and current row)
            as points_avg_last_10
    from {PGS}
    where is_active and (minutes_played > 0 or points > 0)
)
select examples.* replace (
    list_concat(examples.features[1:1], [last_10_through_d.points_avg_last_10], examples.features[3:]) as features)
from {EXAMPLES} as examples
left join last_10_through_d using (player_lookup, game_date)
"""


@pytest.fixture(scope="module")
def state(tmp_path_factory, demo_source_db):
    project = DbtProject(tmp_path_factory.mktemp("training_examples"), demo_source_db)
    project.dbt("seed", "--quiet")
    build_models(project, "--select", "+ml_training_examples",
                 "--vars", f"{{start_date: {DAY_BEFORE}, end_date: {D}}}")
    first = examples_of(project, D)
    raw_before = raw_labels(project, D)
    project.execute(LEAKY_VARIANT)
    leaky_before = examples_of(project, D, "main.leaky_examples")

    rewrite_box_scores(project, D)  # games on D: every box score of D changes
    second_run = build_models(project, "--select", "+ml_training_examples", "--vars", f"{{date: {D}}}")
    second = examples_of(project, D)
    leaky_after = examples_of(project, D, "main.leaky_examples")

    played_before = {row[0] for row in project.query(
        f"select player_lookup from {PGS} where game_date = date '{DAY_BEFORE}' and is_active")}
    rewrite_box_scores(project, DAY_BEFORE)  # games of D - 1
    third_run = build_models(project, "--select", "+ml_training_examples", "--vars", f"{{date: {D}}}")
    third = examples_of(project, D)

    # Catch-up (no vars): the five tables resume after D; the examples, set back to D - 1 here, resume
    # after their own latest date, so D is written again too.
    project.execute(f"delete from {EXAMPLES} where game_date = date '{D}'")
    # (freshness as of the demo's last nightly run: on the wall clock the 2021 loads are stale)
    catch_up_run = build_models(project, "--select", "+ml_training_examples",
                                "--vars", "{freshness_as_of: '2021-12-01 11:00:00'}")
    return State(project, first, (second, second_run), (third, third_run, played_before), catch_up_run,
                 leaky_before, leaky_after, raw_before)


# --- Tests ---------------------------------------------------------------------------------------


@pytest.mark.check
def test_examples_match_the_raw_box_scores_and_lines(state):
    examples, raw = state.first, state.raw_before
    assert len(examples) > 100
    assert set(examples) == set(raw)  # one example per slate player of D (every game of D is final)
    dnp = [player for player, row in examples.items() if not row.played]
    assert dnp, "the demo date has no DNP: the test would not see DNP rows kept"
    for player, row in examples.items():
        played, points, minutes, line, _ = raw[player]
        assert (row.played, row.actual_points, row.actual_minutes, row.current_points_line) == (
            played, points, minutes, line), player
        assert (row.over_line, row.push) == expected_outcome(played, points, line), player
    with_outcome = [row for row in examples.values() if row.over_line is not None]
    assert any(row.over_line for row in with_outcome) and not all(row.over_line for row in with_outcome)


def test_features_are_the_stored_feature_store_rows(state):
    stored = {row[0]: row[1:] for row in state.project.query(f"""
        select player_lookup, features, feature_version, feature_quality_score, quality_tier, data_source,
            feature_sources, default_feature_count, is_training_ready, data_hash
        from dev_nba_predictions.ml_feature_store_v2 where game_date = date '{D}'""")}
    current = examples_of(state.project, D)  # both as the module's last build left them
    assert set(stored) == set(current)
    for player, row in current.items():
        assert (row.features, row.feature_version, row.feature_quality_score, row.quality_tier, row.data_source,
                row.feature_sources, row.default_feature_count, row.is_training_ready,
                row.feature_data_hash) == stored[player], player
    # the provenance varies on the demo date: the comparison could tell a constant from the store's values
    assert {row.is_training_ready for row in current.values()} == {True, False}
    assert len({row.default_feature_count for row in current.values()}) > 1


def test_changing_games_on_d_changes_only_labels_of_d(state):
    before, (after, result) = state.first, state.second
    assert_features_unchanged(before, after)
    # The edit (see rewrite_box_scores) makes every box score of D active, +6 minutes, +7 points.
    raw = state.raw_before
    with_box = {player for player, labels in raw.items() if labels[4]}
    assert with_box
    for player, row in after.items():
        _, points, minutes, line, _ = raw[player]
        if player in with_box:
            points, minutes = (points or 0) + 7, (minutes or 0) + 6
            assert (row.played, row.actual_points, row.actual_minutes) == (True, points, minutes), player
            assert (row.over_line, row.push) == expected_outcome(True, points, line), player
        else:
            assert labels_of(row) == labels_of(before[player]), player
    # Hash skipping: exactly the examples whose label changed were rewritten; the rest kept their stamps.
    relabelled = {player for player in after if labels_of(after[player]) != labels_of(before[player])}
    assert relabelled == with_box
    assert rows_written(result, tables=None)["ml_training_examples"] == len(relabelled) * VERSIONS
    for player in set(after) - relabelled:
        assert after[player] == before[player], player
    for player in relabelled:
        assert after[player].created_at == before[player].created_at
        assert after[player].processed_at > before[player].processed_at


def test_changing_games_of_the_day_before_changes_features_of_d(state):
    (before, _), (after, result, played_before) = state.second, state.third
    players = played_before & set(before)
    assert len(players) > 50
    assert_features_changed(before, after, players)
    for player, row in after.items():
        assert labels_of(row) == labels_of(before[player]), f"{player}: label of D changed after editing D - 1"
    changed = {player for player in after if after[player].data_hash != before[player].data_hash}
    assert rows_written(result, tables=None)["ml_training_examples"] == len(changed) * VERSIONS >= len(players) * VERSIONS


def test_the_leakage_checks_catch_a_leaky_variant(state):
    # The leaky variant's features move with the games on D: the first check must fail on it.
    with pytest.raises(AssertionError, match="changed features after editing games on D"):
        assert_features_unchanged(state.leaky_before, state.leaky_after)
    # A variant whose features never move (frozen before D - 1 was edited) fails the control check.
    (before, _), (_, _, played_before) = state.second, state.third
    with pytest.raises(AssertionError, match="kept their features after editing D - 1"):
        assert_features_changed(before, before, played_before & set(before))
    # ... while the model passes both (the tests above), on the same data.


def test_dnp_rows_are_kept_with_played_false_and_no_outcome(state):
    dnp = state.project.query(f"""
        select count(*), count(over_line), count(push) from {EXAMPLES}
        where game_date = date '{DAY_BEFORE}' and not played""")[0]
    assert dnp[0] > 0 and dnp[1:] == (0, 0)


def test_catch_up_writes_the_labels_of_the_dates_after_its_own_latest(state):
    project = state.project
    dates = [row[0].isoformat() for row in project.query(f"select distinct game_date from {EXAMPLES} order by 1")]
    final = [row[0].isoformat() for row in project.query(
        "select distinct game_date from nba_raw.nbac_schedule "
        f"where game_status = 3 and game_date >= date '{DAY_BEFORE}' order by 1")]
    assert dates == final, "catch-up did not write the examples of every final date after the last built one"
    assert rows_written(state.catch_up, tables=None)["ml_training_examples"] == project.query(
        f"select count(*) from {EXAMPLES} where game_date >= date '{D}'")[0][0] > 0
