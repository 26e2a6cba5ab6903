"""Integration tests of point-in-time correctness, early season and run-window validation
(docs/decisions.md#point-in-time, #season, #early-season, #hash-skipping, #who-gets-a-row).

Each test drives real `dbt build` runs on a private copy of the demo slice (first six weeks of
2021-22; the season opens 2021-10-19, so days 0-13 run to 2021-11-01).
"""
from __future__ import annotations

import pytest

from dbt_harness import (
    OUTPUT_TABLES,
    DbtProject,
    all_states,
    build_models,
    changed_keys,
    grain_checks,
    output_of,
    rows_written,
)

PGS = "nba_analytics.player_game_summary"
OFFENSE = "nba_analytics.team_offense_game_summary"
DEFENSE = "nba_analytics.team_defense_game_summary"
UPCOMING = "nba_analytics.upcoming_player_game_context"


def date_vars(date: str) -> str:
    return "{date: " + date + "}"


def date_filter(name: str, date: str) -> str:
    return f"{OUTPUT_TABLES[name][1]} = date '{date}'"


def states_of_date(project: DbtProject, date: str) -> dict:
    return all_states(project, {name: date_filter(name, date) for name in OUTPUT_TABLES})


def rewrite_box_scores(project: DbtProject, date: str) -> dict:
    """Change every box score of the games played on `date` (player, team offence, team defence):
    a DNP becomes a played game, everyone gets two more paint makes and one more made three, teams
    score 7 more points, pace and ratings move, the result flips. Each changed row gets a new
    data_hash and a later processed_at, as a Phase 3 correction would. Returns rows changed per table."""
    bump = "substr(md5(data_hash || '|corrected'), 1, 16)"
    counts = {}
    with_sql = {
        PGS: f"""
            is_active = true,
            minutes_played = coalesce(minutes_played, 0) + 6,
            points = coalesce(points, 0) + 7,
            fg_attempts = coalesce(fg_attempts, 0) + 3, fg_makes = coalesce(fg_makes, 0) + 3,
            three_pt_attempts = coalesce(three_pt_attempts, 0) + 1, three_pt_makes = coalesce(three_pt_makes, 0) + 1,
            paint_attempts = coalesce(paint_attempts, 0) + 2, paint_makes = coalesce(paint_makes, 0) + 2,
            unassisted_fg_makes = coalesce(unassisted_fg_makes, 0) + 3,
            usage_rate = coalesce(usage_rate, 0) + 5, ts_pct = coalesce(ts_pct, 0) + 0.05""",
        OFFENSE: """
            points_scored = points_scored + 7, pace = pace + 4, offensive_rating = offensive_rating + 6,
            win_flag = not coalesce(win_flag, false)""",
        DEFENSE: """
            points_allowed = points_allowed + 7,
            opp_paint_attempts = opp_paint_attempts + 2, opp_paint_makes = opp_paint_makes + 2,
            opp_three_pt_attempts = opp_three_pt_attempts + 1, opp_three_pt_makes = opp_three_pt_makes + 1,
            points_in_paint_allowed = points_in_paint_allowed + 4, three_pt_points_allowed = three_pt_points_allowed + 3,
            blocks_paint = blocks_paint + 1, defensive_rating = defensive_rating + 6, opponent_pace = opponent_pace + 4""",
    }
    for table, set_sql in with_sql.items():
        counts[table] = project.query(f"select count(*) from {table} where game_date = date '{date}'")[0][0]
        project.execute(f"""
            update {table} set {set_sql},
                data_hash = {bump}, processed_at = processed_at + interval 1 hour
            where game_date = date '{date}'
        """)
    return counts


# --------------------------------------------------------------------------------------------------
# 7. No leakage: games on D never feed features for D
# --------------------------------------------------------------------------------------------------


@pytest.mark.check
def test_games_on_the_date_never_change_its_rows_but_games_before_do(tmp_path, full_build):
    d, day_before = "2021-11-20", "2021-11-19"
    # every demo date built; grain_checks reads the next build's manifest and run results
    project = DbtProject(tmp_path, full_build.db, artifacts=True)
    before = states_of_date(project, d)
    for name in OUTPUT_TABLES:
        assert len(before[name]) > 0, f"{name}: no rows for {d}, the test would prove nothing"

    changed_sources = rewrite_box_scores(project, d)
    assert min(changed_sources.values()) > 0, changed_sources
    result = build_models(project, "--vars", date_vars(d))
    # A dated run skips the staging and intermediate grain checks (a full build runs them all:
    # test_full_builds_run_every_grain_check); they hold by construction and only catch code changes.
    declared, ran = grain_checks(project)
    assert declared and ran == set(), sorted(ran)

    assert rows_written(result) == {name: 0 for name in OUTPUT_TABLES}
    after = states_of_date(project, d)
    for name in OUTPUT_TABLES:
        # Same keys, same data_hash, same write timestamps: nothing of D's own games leaked in.
        leaked = changed_keys(before[name], after[name])
        assert not leaked, f"{name}: {len(leaked)} rows for {d} changed after editing games on {d}"

    # Control: the same edit one day earlier must reach D's rows (else this test could never fail).
    played_before = {row[0] for row in project.query(
        f"select player_lookup from {PGS} where game_date = date '{day_before}'")}
    teams_before = {row[0] for row in project.query(
        f"select defending_team_abbr from {DEFENSE} where game_date = date '{day_before}'")}
    rewrite_box_scores(project, day_before)
    result = build_models(project, "--vars", date_vars(d))
    later = states_of_date(project, d)
    changed = {name: changed_keys(after[name], later[name]) for name in OUTPUT_TABLES}
    print(f"\nrows for {d} rewritten after editing games of {day_before}: "
          f"{ {name: len(keys) for name, keys in changed.items()} }")
    assert rows_written(result) == {name: len(keys) for name, keys in changed.items()}
    for name in OUTPUT_TABLES:
        assert changed[name], f"{name}: no row for {d} changed after editing games of {day_before}"
        # The edit turns DNPs of D - 1 into played games, so players may newly qualify for the
        # player tables; the slate-driven tables and team defence keep their keys.
        if name in ("player_shot_zone_analysis", "player_daily_cache"):
            assert set(after[name]) <= set(later[name]), f"{name}: rows lost"
        else:
            assert set(later[name]) == set(after[name]), f"{name}: keys changed"
    # Every player who played on D - 1 and has a daily-cache / shot-zone row for D got new values
    # (seven more points in his last 10 games, two more paint makes), and every team that played.
    for name in ("player_daily_cache", "player_shot_zone_analysis"):
        expected = {key for key in after[name] if key[0] in played_before}
        assert expected and expected <= changed[name], f"{name}: {len(expected - changed[name])} rows not rewritten"
    expected_teams = {key for key in after["team_defense_zone_analysis"] if key[0] in teams_before}
    assert expected_teams and expected_teams <= changed["team_defense_zone_analysis"]


def test_full_builds_run_every_grain_check(full_build):
    # The staging and intermediate grain checks: enabled in builds without window vars (CI's), all of
    # them ran (and passed: the build succeeded); a dated run skips them (the test above).
    declared, ran = full_build.grain_checks
    assert declared and ran == declared, sorted(declared - ran)


# --------------------------------------------------------------------------------------------------
# 8. Early season and dates without games
# --------------------------------------------------------------------------------------------------


def test_early_season_date_writes_placeholders_and_a_date_without_games_writes_nothing(project):
    early = "2021-10-25"  # day 6 of 2021-22 (season start 2021-10-19, the first final game)
    result = build_models(project, "--vars", date_vars(early))
    slate = {row[0] for row in project.query(
        f"select distinct player_lookup from {UPCOMING} where game_date = date '{early}'")}
    assert len(slate) > 100

    rows = project.query(f"""
        select player_lookup, features, early_season_flag, insufficient_data_reason,
               feature_quality_score, data_source, quality_tier
        from dev_nba_predictions.ml_feature_store_v2 where game_date = date '{early}'
    """)
    assert sorted(row[0] for row in rows) == sorted(slate)  # one row per slate player, no duplicates
    for player, features, flag, reason, quality, source, tier in rows:
        assert features is None or (len(features) == 25 and all(value is None for value in features)), player
        assert (flag, reason, float(quality), source, tier) == (
            True, "early_season_skip_first_14_days", 0.0, "early_season", None), player
    assert rows_written(result)["ml_feature_store_v2"] == len(slate)
    for name in OUTPUT_TABLES:
        flags = project.query(f"select distinct early_season_flag from {project.table(name)}")
        assert flags in ([], [(True,)]), f"{name}: early_season_flag {flags} on day 6"
    # Composite factors write every slate player (no per-entity gate; docs/decisions.md#who-gets-a-row).
    pcf = project.query(f"select player_lookup from {project.table('player_composite_factors')}")
    assert sorted(row[0] for row in pcf) == sorted(slate)

    # A date inside the season without any game (pick it from the schedule, do not assume it).
    no_games = project.query("""
        with days as (
            select cast(day as date) as day
            from generate_series(date '2021-10-19', date '2021-11-30', interval 1 day) as t(day)
        )
        select min(day) from days
        where day not in (select game_date from nba_raw.nbac_schedule)
    """)[0][0]
    assert no_games is not None
    before = all_states(project)
    result = build_models(project, "--vars", date_vars(no_games.isoformat()))
    assert result.returncode == 0
    assert rows_written(result) == {name: 0 for name in OUTPUT_TABLES}
    for name in OUTPUT_TABLES:
        assert project.query(
            f"select count(*) from {project.table(name)} where {date_filter(name, no_games.isoformat())}") == [(0,)]
    assert all_states(project) == before  # the early-season rows were not touched


# --------------------------------------------------------------------------------------------------
# 9. A malformed run window stops the run before anything runs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window_vars", "expected"),
    [
        # Unquoted, YAML itself reads this as an (impossible) date: dbt's --vars parser raises
        # before the project loads, so no project code can name the var; it must still fail cleanly.
        ("{date: 2021-13-45}", None),
        # the shape of a date, not a calendar date
        ("{date: '2021-13-45'}", "var 'date' is '2021-13-45', which is not a calendar date; expected YYYY-MM-DD"),
        ("{date: 2021-11-3}", "var 'date' is '2021-11-3', expected a date as YYYY-MM-DD"),  # not YYYY-MM-DD
        ("{start_date: 2021-11-30, end_date: 2021-11-01}", "var 'start_date' (2021-11-30) is after var 'end_date'"),
        ("{date: 2015-01-01}", "var 'date' (2015-01-01) is outside every season in the schedule"),
    ],
    ids=["impossible_yaml_date", "not_a_calendar_date", "malformed_date", "start_after_end", "outside_every_season"],
)
def test_malformed_window_fails_before_anything_is_written(project, window_vars, expected):
    # The one test of run-window validation (the nightly run's stop on a bad date: test_daily_run.py).
    result = build_models(project, "--vars", window_vars, check=False)
    output = output_of(result)
    assert result.returncode != 0, output[-2000:]
    if expected:
        assert "Compilation Error" in output and expected in output, output[-2000:]
    assert " START " not in output and "OK created" not in output, "a node started despite the bad window"
    # Nothing written: not one table or view in the project's schemas (dbt may create the empty
    # schemas before the on-run-start hook that checks the window against the schedule).
    created = project.query(
        "select table_schema, table_name from information_schema.tables where table_schema like 'dev_%'")
    assert created == [], f"written despite the bad window: {created}"
