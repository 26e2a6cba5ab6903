"""Integration tests of the two versions of ml_feature_store_v2 (docs/feature_versions.md), built by
the daily command on a private copy of the demo slice: version 1 keeps its relation and columns,
version 2 extends it, and the market features read the prop-line snapshots point in time.
"""
from __future__ import annotations

import importlib.util

import pytest

from dbt_harness import REPO, DbtProject

DATE = "2021-12-01"
VARS = "{date: " + DATE + "}"
SCHEMA = "dev_nba_predictions"
SNAPSHOTS = "nba_raw.odds_api_player_points_props"


def _v1_module():
    spec = importlib.util.spec_from_file_location("mlfs_v1", REPO / "models" / "predictions" / "ml_feature_store_v2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_source_db):
    project = DbtProject(tmp_path_factory.mktemp("versions"), demo_source_db)
    project.dbt("seed", "--quiet")
    project.build("--select", "+ml_feature_store_v2", "--exclude-resource-type", "unit_test", "--vars", VARS)
    return project


def columns(project, table):
    return [row[0] for row in project.query(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
        [SCHEMA, table])]


@pytest.mark.check
def test_version_1_keeps_its_relation_and_columns_and_version_2_extends_it(built):
    # version 1: the legacy relation name and the columns the model declares, data_hash last
    assert columns(built, "ml_feature_store_v2") == list(_v1_module().OUTPUT_TYPES) + ["data_hash"]
    assert columns(built, "ml_feature_store_v2_v2") == columns(built, "ml_feature_store_v2")
    rows = built.query(f"""
        select v1.early_season_flag, v1.features, v1.feature_sources, v2.features, v2.feature_sources,
               v1.feature_version, v2.feature_version, v2.feature_count
        from {SCHEMA}.ml_feature_store_v2 as v1
        full join {SCHEMA}.ml_feature_store_v2_v2 as v2 using (player_lookup, game_date)
        where game_date = date '{DATE}'""")
    assert len(rows) > 200
    for early, f1, s1, f2, s2, version1, version2, count in rows:
        assert (version1, version2, count, early) == ("v1_baseline_25", "v2_37features", 37, False)
        assert f2[:25] == f1 and s2[:25] == s1  # same values and labels at the same positions
        assert len(f2) == 37 and len(s2) == 37


def test_the_current_line_is_the_one_the_generator_gave_the_upcoming_context(built):
    # An independent derivation: the generator sets the upcoming context's has_prop_line and
    # current_points_line from the same snapshots in Python (nba_phase3_gen/book.py: the preferred
    # book's latest snapshot before tip-off, else the latest of any book, ties by name).
    rows = built.query(f"""
        select v2.features[29], v2.features[26], context.has_prop_line, context.current_points_line
        from {SCHEMA}.ml_feature_store_v2_v2 as v2
        inner join dev_nba_staging.stg_nba_analytics__upcoming_player_game_context as context using (player_lookup, game_id)
        where v2.game_date = date '{DATE}'""")
    assert len(rows) > 200 and any(row[2] for row in rows) and not all(row[2] for row in rows)
    for has_line, line, context_has_line, context_line in rows:
        assert has_line == (1.0 if context_has_line else 0.0)
        assert line == (float(context_line) if context_has_line else 0.0)


def market(project, player):
    return project.query(f"select features[26], features[27], features[29], feature_sources[26] from {SCHEMA}.ml_feature_store_v2_v2 "
                         f"where player_lookup = ? and game_date = date '{DATE}'", [player])[0]


def test_a_snapshot_moved_past_tip_off_leaves_the_current_line(built, tmp_path):
    # A player whose draftkings (the preferred book) lines before tip-off differ between its two latest
    # snapshots: the latest is the current line. Moved past tip-off, it becomes a live line that no
    # feature reads, and the snapshot before it is the current line.
    player, game, latest, latest_line, previous_line = built.query(f"""
        with pre as (
            select player_lookup, game_id, snapshot_timestamp, points_line,
                   row_number() over (partition by player_lookup, game_id order by minutes_before_tipoff) as rank
            from {SNAPSHOTS}
            where game_date = date '{DATE}' and bookmaker = 'draftkings' and minutes_before_tipoff >= 0)
        select a.player_lookup, a.game_id, a.snapshot_timestamp, a.points_line, b.points_line
        from pre as a join pre as b using (player_lookup, game_id)
        where a.rank = 1 and b.rank = 2 and a.points_line <> b.points_line
        order by a.player_lookup limit 1""")[0]
    before = market(built, player)
    assert before == (latest_line, before[1], 1.0, "market")

    project = DbtProject(tmp_path, built.db)
    project.execute(f"update {SNAPSHOTS} set minutes_before_tipoff = -5 where player_lookup = ? and game_id = ? "
                    "and bookmaker = 'draftkings' and snapshot_timestamp = ?", [player, game, latest])
    project.build("--select", "+ml_feature_store_v2", "--exclude-resource-type", "unit_test", "--vars", VARS)
    after = market(project, player)
    assert after[0] == previous_line != latest_line
    assert after[1] == before[1]  # the opening line is the same snapshot


def test_no_snapshot_before_tip_off_leaves_every_market_feature_missing(built, tmp_path):
    player, game = built.query(f"""
        select player_lookup, game_id from {SCHEMA}.ml_feature_store_v2_v2
        where game_date = date '{DATE}' and feature_sources[26] = 'market' order by player_lookup limit 1""")[0]
    project = DbtProject(tmp_path, built.db)
    project.execute(f"update {SNAPSHOTS} set minutes_before_tipoff = -1 - minutes_before_tipoff where player_lookup = ? and game_id = ?",
                    [player, game])
    project.build("--select", "+ml_feature_store_v2", "--exclude-resource-type", "unit_test", "--vars", VARS)
    features, sources = project.query(f"select features[26:29], feature_sources[26:29] from {SCHEMA}.ml_feature_store_v2_v2 "
                                      f"where player_lookup = ? and game_date = date '{DATE}'", [player])[0]
    assert features == [0.0, 0.0, 0.0, 0.0] and sources == ["missing"] * 4


def test_an_impossible_snapshot_stops_the_build_at_staging_and_version_1_still_builds(built, tmp_path):
    project = DbtProject(tmp_path, built.db)
    project.execute(f"insert into {SNAPSHOTS} select * replace (23.3 as points_line, snapshot_timestamp + interval 1 minute"
                    f" as snapshot_timestamp) from {SNAPSHOTS} where game_date = date '{DATE}' and player_lookup = ("
                    f"select min(player_lookup) from {SNAPSHOTS} where game_date = date '{DATE}') limit 1")
    before = project.query(f"select player_lookup, data_hash from {SCHEMA}.ml_feature_store_v2_v2 order by 1")
    result = project.build("--select", "+ml_feature_store_v2", "--exclude-resource-type", "unit_test", "--vars", VARS, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "stg_prop_line_snapshots__rows_are_valid" in output and "broken_rule=line_on_the_half_point, broken_value=23.3" in output
    assert "rows written: ml_feature_store_v2 = 0" in output  # version 1 does not read the snapshots
    assert project.query(f"select player_lookup, data_hash from {SCHEMA}.ml_feature_store_v2_v2 order by 1") == before


def test_history_inputs_equal_a_recomputation_from_the_box_scores(built):
    """Independent derivation of version 2's history inputs (spec 11) in Python from the source box
    scores and the schedule, not from the project's intermediate models: for each row of the date,
    his box-score rows before the date newest first (date, then game id), a played game being an
    active row with minutes or points; the last 10 rows and their DNPs, the last 10 played games'
    points and minutes, played games against the date's opponent in the 365 days before it, and
    played games of the date's season (the schedule's season) before it."""
    import datetime as dt

    season_of = dict(built.query("select game_id, season_year from nba_raw.nbac_schedule"))
    box = {}
    for player, game_id, day, opponent, active, minutes, points in built.query(
            "select player_lookup, game_id, game_date, opponent_team_abbr, is_active, minutes_played, points"
            " from nba_analytics.player_game_summary where game_date < ?", [DATE]):
        played = bool(active) and ((minutes or 0) > 0 or (points or 0) > 0)
        box.setdefault(player, []).append((day, game_id, opponent, played, minutes, points))
    slate = dict(built.query("select player_lookup, opponent_team_abbr from nba_analytics.upcoming_player_game_context"
                             " where game_date = ?", [DATE]))
    season = season_of[built.query("select game_id from nba_raw.nbac_schedule where game_date = ? limit 1", [DATE])[0][0]]
    columns = ["rows_last_10", "dnp_rows_last_10", "played_games_last_10",
               *[f"{kind}_{rank}" for rank in range(1, 11) for kind in ("points", "minutes")],
               "games_vs_opponent", "points_avg_vs_opponent", "season_games", "points_avg_season"]
    stored = built.query(f"select player_lookup, {', '.join(columns)} from dev_nba_staging.int_ml_feature_store_v2__inputs"
                         " where game_date = ?", [DATE])
    assert len(stored) > 200
    day = dt.date.fromisoformat(DATE)
    checked = 0
    for player, *values in stored:
        rows = sorted(box.get(player, []), key=lambda r: (r[0], r[1]), reverse=True)
        played = [r for r in rows if r[3]]
        last = rows[:10]
        expected = {"rows_last_10": len(last), "dnp_rows_last_10": sum(not r[3] for r in last),
                    "played_games_last_10": min(len(played), 10)}
        for rank in range(1, 11):
            game = played[rank - 1] if rank <= len(played) else None
            expected[f"points_{rank}"] = float(game[5]) if game else None
            expected[f"minutes_{rank}"] = game[4] if game else None
        versus = [r[5] for r in played if r[2] == slate[player] and r[0] >= day - dt.timedelta(days=365)]
        this_season = [r[5] for r in played if season_of[r[1]] == season]
        expected.update(games_vs_opponent=len(versus), points_avg_vs_opponent=sum(versus) / len(versus) if versus else None,
                        season_games=len(this_season),
                        points_avg_season=sum(this_season) / len(this_season) if this_season else None)
        got = dict(zip(columns, values))
        for name in columns:
            if isinstance(expected[name], float) and got[name] is not None:
                assert float(got[name]) == pytest.approx(expected[name]), (player, name)
            else:
                assert got[name] == expected[name], (player, name, got[name], expected[name])
        checked += expected["played_games_last_10"] > 0 and expected["games_vs_opponent"] > 0
    assert checked > 50  # rows with history and games against the opponent were compared
