"""Reliability: what happens to the five output tables when inputs, runs or the repository go wrong.

Each test sets up one fault on the generated demo slice (first six weeks of 2021-22) and checks
that it is either handled by a documented rule (the build passes every data test and the tables
hold the right rows) or stopped by a named data test before any output table changes. Nothing may
reach a table as NaN, a duplicate key or a silently wrong number. docs/reliability.md is the
table of faults; each row names the test here that covers it.

Cost: one dbt invocation is 5-25 s on a 2-core machine. Most tests share one workdir whose
database is restored from a saved baseline (a clean build of RANGE) before each fault, so dbt's
partial parse is reused whenever the vars stay the same.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from dbt_harness import (
    DBT,
    OUTPUT_TABLES,
    REPO,
    DbtProject,
    all_states,
    build_models,
    changed_keys,
    key_counts,
    output_of,
    output_unique_id,
    rows_written,
)

D = "2021-11-26"  # first game date after 2021-11-24 (Thanksgiving, 2021-11-25, has no games)
END = "2021-11-30"  # last date with box scores in the demo slice
RANGE_VARS = "{start_date: " + D + ", end_date: " + END + "}"
RANGE_DATES = ["2021-11-26", "2021-11-27", "2021-11-28", "2021-11-29", "2021-11-30"]
OUTPUT_MODELS = [output_unique_id(name) for name in OUTPUT_TABLES]

PGS = "nba_analytics.player_game_summary"
OFFENSE = "nba_analytics.team_offense_game_summary"
DEFENSE = "nba_analytics.team_defense_game_summary"
UPCOMING = "nba_analytics.upcoming_player_game_context"
TEAM_CONTEXT = "nba_analytics.upcoming_team_game_context"
SCHEDULE = "nba_raw.nbac_schedule"
STG_PGS = "dev_nba_staging.stg_nba_analytics__player_game_summary"
STAGED_KEYS = {
    "stg_nba_analytics__player_game_summary": ("player_lookup", "game_id"),
    "stg_nba_analytics__team_offense_game_summary": ("game_id", "team_abbr"),
    "stg_nba_analytics__team_defense_game_summary": ("game_id", "defending_team_abbr"),
    "stg_nba_analytics__upcoming_player_game_context": ("player_lookup", "game_id"),
    "stg_nba_analytics__upcoming_team_game_context": ("team_abbr", "game_id"),
    "stg_nba_raw__schedule": ("game_id",),
}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def run_results(project: DbtProject) -> dict:
    """{unique_id: result} of the last invocation (target/run_results.json)."""
    data = json.loads((project.workdir / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r for r in data["results"]}


def named_test_result(results: dict, name: str) -> dict:
    """The run result of the data test called `name` (tests with `name:` keep it in their unique_id)."""
    found = [r for uid, r in results.items() if uid.startswith("test.") and uid.split(".")[2] == name]
    assert len(found) == 1, f"test {name} not in run_results ({len(found)} matches)"
    return found[0]


def summary_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in output_of(result).splitlines() if "Done. PASS=" in line]
    return lines[-1] if lines else ""


def assert_clean_build(result: subprocess.CompletedProcess) -> None:
    """No error, nothing skipped, and no warning but the feature-health drift gate's: it warns by
    design outside `make daily` (docs/feature_health.md), while every data-validity test passes."""
    line = summary_line(result)
    assert "ERROR=0 SKIP=0" in line, line
    warned = re.findall(r"\d+ of \d+ WARN \d+ (\S+)", output_of(result))
    assert all(name.startswith("no_feature_health_alert") for name in warned), warned
    assert f"WARN={len(warned)} " in line, line


def hash_state(db: Path) -> dict:
    """{table: {key: data_hash}} read straight from a database file."""
    with duckdb.connect(str(db), read_only=True) as con:
        out = {}
        for name, (schema, _, key, _) in OUTPUT_TABLES.items():
            rows = con.execute(f"select {', '.join(key)}, data_hash from {schema}.{name}").fetchall()
            out[name] = {tuple(row[:-1]): row[-1] for row in rows}
        return out


def counts_per_date(state: dict) -> dict:
    """{table: {date: rows}} of a {table: {key: ...}} state (the date is the last key column)."""
    out = {}
    for name, rows in state.items():
        per_date: dict = {}
        for key in rows:
            per_date[key[-1]] = per_date.get(key[-1], 0) + 1
        out[name] = per_date
    return out


def restore(workdir: Path, db: Path) -> DbtProject:
    """The shared project with its database reset to `db` (a leftover WAL of a killed run removed)."""
    (workdir / "nba.duckdb.wal").unlink(missing_ok=True)
    return DbtProject(workdir, db, artifacts=True)


class Snapshot:
    """A private copy of the shared project's database and run results right after one invocation,
    so tests sharing a module fixture keep reading it after other tests restore the shared project.
    The copy keeps the file name nba.duckdb: the views and compiled tests name the catalog `nba`."""

    def __init__(self, project: DbtProject, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.db = directory / "nba.duckdb"
        shutil.copy(project.db, self.db)
        self.results = run_results(project)

    def query(self, sql: str, params=None) -> list:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def execute(self, sql: str, params=None) -> None:
        with duckdb.connect(str(self.db)) as con:
            con.execute(sql, params or [])


def dev_relations(project: DbtProject) -> list:
    return project.query(
        "select table_schema, table_name from information_schema.tables where table_schema like 'dev_%' order by 1, 2")


def nan_cells(project: DbtProject) -> list:
    """(schema, table, column, rows) of every float (or float array) column of the dev_ schemas holding NaN/inf."""
    columns = project.query("""
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema like 'dev_%' and (data_type in ('DOUBLE', 'FLOAT') or data_type in ('DOUBLE[]', 'FLOAT[]'))
    """)
    found = []
    for schema, table, column, data_type in columns:
        if data_type.endswith("[]"):
            predicate = f'len(list_filter("{column}", lambda x: isnan(x) or isinf(x))) > 0'
        else:
            predicate = f'isnan("{column}") or isinf("{column}")'
        bad = project.query(f'select count(*) from {schema}."{table}" where {predicate}')[0][0]
        if bad:
            found.append((schema, table, column, bad))
    assert columns, "no float columns scanned"
    return found


def played_box_scores(project: DbtProject, game_date: str, limit: int) -> list:
    """(player_lookup, game_id) of `limit` ordinary played box scores on `game_date` (by player)."""
    return project.query(f"""
        select player_lookup, game_id from {PGS}
        where game_date = date '{game_date}' and is_active and minutes_played > 10
          and fg_attempts >= 3 and paint_makes < paint_attempts and points > 0
        order by player_lookup limit {limit}
    """)


def insert_copy(project: DbtProject, table: str, where: str, params: list, replace_sql: str) -> None:
    """Insert a copy of the rows of `table` matching `where`, with the columns of replace_sql replaced."""
    project.execute(f"insert into {table} by name select * replace ({replace_sql}) from {table} where {where}", params)


def output_statuses(project) -> dict:
    """{output table: run status} of the last invocation (None when the model was not selected)."""
    results = project.results if isinstance(project, Snapshot) else run_results(project)
    return {name: results.get(output_unique_id(name), {}).get("status") for name in OUTPUT_TABLES}


def assert_outputs_untouched(project, baseline: "Baseline", must_skip=tuple(OUTPUT_TABLES)) -> None:
    """Every output table holds exactly its previous rows (same hash, same write timestamps) and
    the models in `must_skip` (those downstream of the fault) were skipped."""
    after = all_states(project)
    for name in OUTPUT_TABLES:
        assert after[name] == baseline.state[name], f"{name}: {len(changed_keys(baseline.state[name], after[name]))} rows changed"
    statuses = output_statuses(project)
    assert {name: statuses[name] for name in must_skip} == {name: "skipped" for name in must_skip}, statuses


# --------------------------------------------------------------------------------------------------
# The shared baseline: a clean build of RANGE, saved; every fault below starts from a copy of it
# --------------------------------------------------------------------------------------------------


@dataclass
class Baseline:
    workdir: Path  # the shared project directory (target/ and logs/ reused between tests)
    db: Path  # the saved database after the clean build
    state: dict  # all_states() right after the clean build
    root: Path


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, range_build) -> Baseline:
    # The session's range build of RANGE (conftest.py), copied.
    root = tmp_path_factory.mktemp("reliability")
    workdir = root / "project"
    workdir.mkdir()
    project = DbtProject(workdir, range_build.db, artifacts=True)
    result = range_build.result
    assert RANGE_VARS in " ".join(result.args), result.args
    assert_clean_build(result)
    state = all_states(project)
    for name in OUTPUT_TABLES:
        dates = {str(key[-1]) for key in state[name]}
        assert dates == set(RANGE_DATES), f"{name}: dates {sorted(dates)}"
    db = root / "baseline.duckdb"
    shutil.copy(project.db, db)
    return Baseline(workdir, db, state, root)


# --------------------------------------------------------------------------------------------------
# 1. Bad variables: tested once, with the run window, in test_point_in_time.py
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def never_built(tmp_path_factory, demo_source_db) -> DbtProject:
    """A project on the demo sources in which nothing was ever built."""
    return DbtProject(tmp_path_factory.mktemp("never_built"), demo_source_db, artifacts=True)


# --------------------------------------------------------------------------------------------------
# 2. Bad upstream rows that the build handles: NULLs, duplicates, new columns
# --------------------------------------------------------------------------------------------------


KEEP_COLUMNS = {"player_lookup", "game_id", "game_date", "team_abbr", "opponent_team_abbr", "data_hash",
                "processed_at", "created_at"}


def nullable_columns(project: DbtProject, table: str) -> list:
    """Every column of a source table except its keys, team codes and bookkeeping columns."""
    schema, name = table.split(".")
    rows = project.query(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, name])
    return [column for (column,) in rows if column not in KEEP_COLUMNS]


def test_null_inputs_build_without_nan_and_pass_every_data_test(baseline):
    project = restore(baseline.workdir, baseline.db)
    slate = [row[0] for row in project.query(
        f"select distinct player_lookup from {UPCOMING} where game_date = date '{D}' order by 1 limit 6")]
    pgs_columns = nullable_columns(project, PGS)
    context_columns = nullable_columns(project, UPCOMING)
    assert {"minutes_played", "points", "usage_rate", "ts_pct", "is_active"} <= set(pgs_columns)
    assert {"days_rest", "projected_usage_rate", "current_points_line", "player_status"} <= set(context_columns)
    null_pgs = ", ".join(f"{column} = null" for column in pgs_columns)
    null_context = ", ".join(f"{column} = null" for column in context_columns)
    # Player 0: every box score of the season unknown. Players 1-3: their latest three games unknown.
    # Players 1, 4, 5: every upcoming-context value of the range unknown (their slate rows stay).
    project.execute(f"update {PGS} set {null_pgs} where player_lookup = ?", [slate[0]])
    project.execute(f"""
        update {PGS} set {null_pgs} where (player_lookup, game_id) in (
            select player_lookup, game_id from (
                select player_lookup, game_id,
                       row_number() over (partition by player_lookup order by game_date desc) as recency
                from {PGS} where game_date < date '{D}' and player_lookup in (?, ?, ?))
            where recency <= 3)
    """, slate[1:4])
    project.execute(f"update {UPCOMING} set {null_context} where player_lookup in (?, ?, ?) and game_date >= date '{D}'",
                    [slate[1], slate[4], slate[5]])

    result = build_models(project, "--vars", RANGE_VARS, check=False)

    assert result.returncode == 0, output_of(result)[-3000:]
    assert_clean_build(result)
    assert nan_cells(project) == []
    for name in OUTPUT_TABLES:
        rows, keys = key_counts(project, name)
        assert rows == keys, f"{name}: duplicate keys"
    # Every NULLed player still gets his feature-store row on every slate date (no silent drop),
    # with a full 25-feature vector or an explicit placeholder.
    expected = project.query(f"""
        select count(*) from (select distinct player_lookup, game_date from {UPCOMING}
        where player_lookup in ({', '.join('?' * 6)}) and game_date between date '{D}' and date '{END}')
    """, slate)[0][0]
    got = project.query(f"""
        select count(*), count(*) filter (where len(features) = 25 or early_season_flag)
        from dev_nba_predictions.ml_feature_store_v2 where player_lookup in ({', '.join('?' * 6)})
    """, slate)[0]
    assert got == (expected, expected) and expected > 0


def orphan_game_id(project: DbtProject, game_id: str) -> str:
    """The id of `game_id` moved to 2021-11-25 (Thanksgiving: no game in the schedule)."""
    orphan = "20211125" + game_id[8:]
    assert project.query(f"select count(*) from {SCHEDULE} where game_id = ?", [orphan]) == [(0,)]
    return orphan


@pytest.fixture(scope="module")
def handled_faults(baseline):
    """One build over sources carrying the faults the models handle without changing any output:
    stale duplicates of source rows and new source columns (box scores of a game that is not in the
    schedule stop the build instead: test_box_scores_of_a_game_not_in_the_schedule_stop_the_build_by_name).
    Returns (project, build result, the injected rows)."""
    project = restore(baseline.workdir, baseline.db)
    dup_rows = played_box_scores(project, "2021-11-23", 3)
    key = "player_lookup = ? and game_id = ?"
    # Stale duplicates (older processed_at, or same processed_at and older created_at) with other numbers.
    for player, game_id in dup_rows[:2]:
        insert_copy(project, PGS, key, [player, game_id],
                    "points + 40 as points, ft_makes + 40 as ft_makes, substr(md5(data_hash || '|older'), 1, 16) as data_hash, "
                    "processed_at - interval 1 day as processed_at")
    player, game_id = dup_rows[2]
    insert_copy(project, PGS, key, [player, game_id],
                "points + 40 as points, ft_makes + 40 as ft_makes, substr(md5(data_hash || '|tie'), 1, 16) as data_hash, "
                "created_at - interval 1 day as created_at")
    slate_player = project.query(f"select min(player_lookup) from {UPCOMING} where game_date = date '{D}'")[0][0]
    insert_copy(project, UPCOMING, f"player_lookup = ? and game_date = date '{D}'", [slate_player],
                "current_points_line + 9.5 as current_points_line, 'out' as player_status, "
                "substr(md5(data_hash || '|older'), 1, 16) as data_hash, processed_at - interval 1 day as processed_at")
    offense_game = project.query(f"select min(game_id) from {OFFENSE} where game_date = date '2021-11-23'")[0][0]
    insert_copy(project, OFFENSE, "game_id = ?", [offense_game],
                "points_scored + 30 as points_scored, pace + 20 as pace, substr(md5(data_hash || '|older'), 1, 16) as data_hash, "
                "processed_at - interval 1 day as processed_at")
    insert_copy(project, SCHEDULE, "game_id = ?", [offense_game],
                "1 as game_status, substr(md5(data_hash || '|older'), 1, 16) as data_hash, processed_at - interval 1 day as processed_at")
    # Schema drift: a new column in three sources.
    for table in (PGS, UPCOMING, SCHEDULE):
        project.execute(f"alter table {table} add column reliability_new_column varchar default 'new'")

    result = build_models(project, "--vars", RANGE_VARS, check=False)
    injected = {"duplicates": dup_rows, "slate_player": slate_player, "offense_game": offense_game}
    return Snapshot(project, baseline.root / "handled_faults"), result, injected


def test_stale_duplicates_and_new_columns_change_no_output(baseline, handled_faults):
    project, result, _ = handled_faults
    assert result.returncode == 0, output_of(result)[-3000:]
    assert "ERROR=0 SKIP=0" in summary_line(result), summary_line(result)
    written = rows_written(result)
    assert written == {name: 0 for name in OUTPUT_TABLES}, written
    after = all_states(project)
    for name in OUTPUT_TABLES:
        assert after[name] == baseline.state[name], f"{name}: {len(changed_keys(baseline.state[name], after[name]))} rows changed"


def test_duplicate_source_rows_resolve_to_the_latest_row(handled_faults):
    project, result, injected = handled_faults
    # The uniqueness tests of the five outputs, ml_training_examples and the two health tables ran and
    # passed (a dated run skips the grain checks of staging and intermediate models: they hold by
    # construction) ...
    uniqueness = [r for uid, r in project.results.items() if uid.startswith("test.") and "unique_combination" in uid]
    assert len(uniqueness) == len(OUTPUT_TABLES) + 1 + 2 and all(r["status"] == "pass" for r in uniqueness)
    # ... and each staged source has one row per natural key despite the duplicates.
    for view, key in STAGED_KEYS.items():
        rows, keys = project.query(f"select count(*), count(distinct ({', '.join(key)})) from dev_nba_staging.{view}")[0]
        assert rows == keys, f"{view}: duplicate keys"
    for name in OUTPUT_TABLES:
        rows, keys = key_counts(project, name)
        assert rows == keys, f"{name}: duplicate keys"
    # Staging keeps exactly the source row with the latest processed_at (then created_at).
    for player, game_id in injected["duplicates"]:
        assert project.query(f"select count(*) from {PGS} where player_lookup = ? and game_id = ?", [player, game_id]) == [(2,)]
        staged = project.query(f"select data_hash, processed_at, created_at from {STG_PGS} where player_lookup = ? and game_id = ?",
                               [player, game_id])
        latest = project.query(f"""
            select data_hash, processed_at, created_at from {PGS} where player_lookup = ? and game_id = ?
            order by processed_at desc, created_at desc limit 1""", [player, game_id])
        assert staged == latest
    # A newer correction wins at once (the staging models are views over the sources).
    player, game_id = injected["duplicates"][0]
    insert_copy(project, PGS, "player_lookup = ? and game_id = ? and processed_at = (select max(processed_at) from "
                f"{PGS} where player_lookup = ? and game_id = ?)", [player, game_id, player, game_id],
                "points + 1 as points, ft_makes + 1 as ft_makes, 'ffffffffffffffff' as data_hash, "
                "processed_at + interval 1 hour as processed_at")
    assert project.query(f"select count(*), max(data_hash) from {STG_PGS} where player_lookup = ? and game_id = ?",
                         [player, game_id]) == [(1, "ffffffffffffffff")]


def test_box_scores_of_a_game_not_in_the_schedule_stop_the_build_by_name(baseline):
    """Player, team offence and team defence rows of a game the schedule does not know (2021-11-25 has
    no games) stop the build at staging, each named with its source table; no output changes."""
    project = restore(baseline.workdir, baseline.db)
    game = project.query(f"select min(game_id) from {DEFENSE} where game_date = date '2021-11-23'")[0][0]
    orphan = orphan_game_id(project, game)
    moved = f"'{orphan}' as game_id, date '2021-11-25' as game_date"
    insert_copy(project, PGS, "game_id = ?", [game], f"{moved}, points + 20 as points, ft_makes + 20 as ft_makes")
    insert_copy(project, OFFENSE, "game_id = ?", [game], f"{moved}, points_scored + 50 as points_scored")
    insert_copy(project, DEFENSE, "game_id = ?", [game],
                f"{moved}, points_allowed + 50 as points_allowed, "
                "opp_paint_attempts + 20 as opp_paint_attempts, opp_paint_makes + 20 as opp_paint_makes")

    result = build_models(project, "--vars", RANGE_VARS, check=False)

    text = output_of(result)
    assert result.returncode != 0
    for source in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
        test = named_test_result(run_results(project), f"stg_{source}__game_matches_schedule")
        inserted = project.query(f"select count(*) from nba_analytics.{source} where game_id = ?", [orphan])[0][0]
        assert test["status"] == "fail" and test["failures"] == inserted, (source, test["status"], test["failures"])
        # each row is named with its key (the player or team) as well as the game
        assert re.search(rf"nba_analytics\.{source}: (player_lookup=\w+, )?game_id={orphan}, game_date=2021-11-25, "
                         r"(team_abbr|defending_team_abbr)=[A-Z]{3}, schedule_game_date=None, broken_rule=game not in the schedule",
                         text), text[-3000:]
    after = all_states(project)
    for name in OUTPUT_TABLES:
        assert after[name] == baseline.state[name], f"{name}: {len(changed_keys(baseline.state[name], after[name]))} rows changed"


def test_new_source_column_does_not_break_the_build(handled_faults):
    project, result, _ = handled_faults
    assert result.returncode == 0
    assert project.query(
        "select count(*) from information_schema.columns where column_name = 'reliability_new_column'") == [(3,)]
    # The staging models select their columns by name: the new column does not leak downstream.
    assert project.query(
        "select count(*) from information_schema.columns where column_name = 'reliability_new_column' "
        "and table_schema like 'dev_%'") == [(0,)]


# --------------------------------------------------------------------------------------------------
# 3. Bad upstream rows that stop the build: named data tests, outputs keep their previous content
# --------------------------------------------------------------------------------------------------

# Each staging model has one `column_rules` test, `<source>__rows_are_valid`: it fails with every
# offending row, labelled with the rule it breaks (`broken_rule`).
BOX_SCORE_TEST = "stg_player_game_summary__rows_are_valid"
# (broken_rule reported, SQL SET clause) - each fault is applied to its own box score.
BOX_SCORE_FAULTS = [
    ("makes_not_above_attempts", "fg_makes = fg_attempts + 1"),
    ("zone_attempts_sum_to_fg_attempts", "paint_attempts = paint_attempts + 1"),
    ("minutes_played between 0 and 70", "minutes_played = 75"),
    ("box_score_counts_not_negative", "points = -3"),
    ("team_abbr in (one of 30 accepted values)", "team_abbr = 'XYZ'"),
]
# (test, broken_rule reported, table, SQL SET clause)
CODE_FAULTS = [
    ("stg_schedule__rows_are_valid", "home_team_tricode in (one of 30 accepted values)", SCHEDULE,
     "home_team_tricode = 'XYZ'"),
    ("stg_upcoming_player_game_context__rows_are_valid", "opponent_team_abbr in (one of 30 accepted values)",
     UPCOMING, "opponent_team_abbr = 'XYZ'"),
]
ALL_FAULTS = [(BOX_SCORE_TEST, rule) for rule, _ in BOX_SCORE_FAULTS] + [(test, rule) for test, rule, _, _ in CODE_FAULTS]


@pytest.fixture(scope="module")
def impossible_rows(baseline):
    """One build over sources with seven impossible rows, each breaking exactly one rule.
    Returns (project, result, {(test, rule): identifying values of its row})."""
    project = restore(baseline.workdir, baseline.db)
    rows = played_box_scores(project, "2021-11-20", len(BOX_SCORE_FAULTS))
    targets = {}
    for (rule, set_sql), (player, game_id) in zip(BOX_SCORE_FAULTS, rows):
        project.execute(f"update {PGS} set {set_sql} where player_lookup = ? and game_id = ?", [player, game_id])
        targets[(BOX_SCORE_TEST, rule)] = {player, game_id} | ({"XYZ"} if "XYZ" in set_sql else set())
    game = project.query(f"select min(game_id) from {SCHEDULE} where game_date = date '2021-11-27'")[0][0]
    project.execute(f"update {SCHEDULE} set {CODE_FAULTS[0][3]} where game_id = ?", [game])
    slate_player = project.query(f"select min(player_lookup) from {UPCOMING} where game_date = date '{D}'")[0][0]
    project.execute(f"update {UPCOMING} set {CODE_FAULTS[1][3]} where player_lookup = ? and game_date = date '{D}'",
                    [slate_player])
    targets[CODE_FAULTS[0][:2]] = {game, "XYZ"}
    targets[CODE_FAULTS[1][:2]] = {slate_player, "XYZ"}
    result = build_models(project, "--vars", RANGE_VARS, check=False)
    return Snapshot(project, baseline.root / "impossible_rows"), result, targets


@pytest.mark.parametrize("test_name, rule", ALL_FAULTS)
def test_impossible_row_fails_its_named_test(impossible_rows, test_name, rule):
    project, result, targets = impossible_rows
    output = output_of(result)
    assert result.returncode != 0
    assert f"Failure in test {test_name}" in output, output[-3000:]
    test = named_test_result(project.results, test_name)
    bad_rows = len(BOX_SCORE_FAULTS) if test_name == BOX_SCORE_TEST else 1
    assert test["status"] == "fail" and test["failures"] == bad_rows, (test["status"], test["failures"])
    # The test's query returns the offending row (its key and the bad value) labelled with the rule.
    failing = project.query(f"select * from ({test['compiled_code']}) as failures where broken_rule = ?", [rule])
    assert len(failing) == 1, failing
    values = {str(value) for value in failing[0]}
    assert targets[(test_name, rule)] <= values, (targets[(test_name, rule)], failing)


@pytest.mark.check
def test_impossible_rows_skip_every_output_model_and_change_nothing(baseline, impossible_rows):
    project, result, _ = impossible_rows
    assert result.returncode != 0
    assert_outputs_untouched(project, baseline)  # the schedule's fault alone skips all five


GATE_GAME = "20211124_DAL_MIN"


@pytest.fixture(scope="module")
def missing_box_scores(baseline):
    """One build over sources in which a final game of the lookback has no player box scores."""
    project = restore(baseline.workdir, baseline.db)
    project.execute(f"delete from {PGS} where game_id = ?", [GATE_GAME])
    result = build_models(project, "--vars", RANGE_VARS, check=False)
    return Snapshot(project, baseline.root / "missing_box_scores"), result


def test_scheduled_game_without_box_scores_fails_the_completeness_gate_naming_it(missing_box_scores):
    project, result = missing_box_scores
    output = output_of(result)
    assert result.returncode != 0
    assert "Failure in test completeness_gate_box_scores" in output, output[-3000:]
    for team in ("DAL", "MIN"):
        line = f"completeness gate (box scores): game {GATE_GAME} on 2021-11-24 is missing {team}: player box scores"
        assert line in output, output[-3000:]
    test = named_test_result(project.results, "completeness_gate_box_scores")
    assert test["status"] == "fail" and test["failures"] == 2


def test_failing_completeness_gate_skips_all_five_tables(baseline, missing_box_scores):
    project, result = missing_box_scores
    statuses = output_statuses(project)
    ran = {name: status for name, status in statuses.items() if status != "skipped"}
    # dbt build only makes a model wait for a test when every node the test reads is upstream of the
    # model: int_run_dates refs every staged source (depends_on), so the gates guard all five tables.
    assert ran == {}, f"the gate does not guard {sorted(ran)}: written {rows_written(result)}"
    assert_outputs_untouched(project, baseline)


def test_dropped_source_column_fails_naming_it(baseline):
    """Before: the staging view failed in DuckDB's words (Binder Error ... "usage_rate"), naming no
    source. Now the guard names the source and the column before any model runs."""
    project = restore(baseline.workdir, baseline.db)
    project.execute(f"alter table {PGS} drop column usage_rate")

    result = build_models(project, "--vars", RANGE_VARS, check=False)

    output = " ".join(output_of(result).split())
    assert result.returncode != 0
    assert "source nba_analytics.player_game_summary" in output and "has no column usage_rate" in output, output[-3000:]
    assert "Binder Error" not in output
    assert all_states(project) == baseline.state  # nothing ran, nothing changed


# --------------------------------------------------------------------------------------------------
# 4. Concurrent and interrupted runs
# --------------------------------------------------------------------------------------------------


@dataclass
class RerunStates:
    modified_db: Path  # baseline tables + changed sources, before any re-run
    before: dict  # {table: {key: data_hash}} before the re-run
    after: dict  # ... after a clean, complete re-run
    first: subprocess.CompletedProcess  # the run that held the lock
    second: subprocess.CompletedProcess  # the run started while the first one held the lock
    second_seconds: float
    leftover_tmp_tables: list


@pytest.fixture(scope="module")
def concurrent_rerun(baseline) -> RerunStates:
    """Change box scores of 2021-11-22 (a valid correction: one more free throw per played game), then
    `dbt run` RANGE; while it holds the database (paused with SIGSTOP right after it starts its
    first node, so the timing is deterministic), start a second `dbt run` on the same file."""
    project = restore(baseline.workdir, baseline.db)
    project.execute(f"""
        update {PGS} set points = points + 1, ft_makes = ft_makes + 1,
            data_hash = substr(md5(data_hash || '|corrected'), 1, 16), processed_at = processed_at + interval 1 hour
        where game_date = date '2021-11-22' and is_active and minutes_played > 0
    """)
    modified = baseline.root / "modified.duckdb"
    shutil.copy(project.db, modified)
    before = hash_state(project.db)

    cmd = [DBT, "run", "--vars", RANGE_VARS]
    first = subprocess.Popen(cmd, cwd=REPO, env=project.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    head = []
    try:
        for line in first.stdout:
            head.append(line)
            if " START " in line:
                os.kill(first.pid, signal.SIGSTOP)
                break
        assert first.poll() is None, "".join(head)
        # The second run: its own target/log dirs (a copy of the parse cache), the same database file.
        env = {**project.env, "DBT_TARGET_PATH": str(baseline.root / "target_second"),
               "DBT_LOG_PATH": str(baseline.root / "logs_second")}
        Path(env["DBT_TARGET_PATH"]).mkdir(exist_ok=True)
        shutil.copy(project.workdir / "target" / "partial_parse.msgpack", Path(env["DBT_TARGET_PATH"]))
        started = time.monotonic()
        second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        second_seconds = time.monotonic() - started
    finally:
        os.kill(first.pid, signal.SIGCONT)
    rest = first.stdout.read()
    first.wait(timeout=600)
    first_result = subprocess.CompletedProcess(cmd, first.returncode, "".join(head) + rest, "")
    leftovers = project.query("select schema_name, table_name from duckdb_tables() where table_name like '%dbt_tmp%'")
    return RerunStates(modified, before, hash_state(project.db), first_result, second, second_seconds, leftovers)


def test_second_run_on_a_locked_database_fails_fast_and_damages_nothing(concurrent_rerun):
    states = concurrent_rerun
    second = output_of(states.second)
    assert states.second.returncode != 0
    assert "Could not set lock on file" in second and "Conflicting lock is held" in second, second[-2000:]
    assert " START " not in second and "OK created" not in second
    assert states.second_seconds < 120
    # The first run, paused meanwhile, then completes normally and writes the corrected rows.
    assert states.first.returncode == 0, output_of(states.first)[-3000:]
    written = rows_written(states.first)
    assert set(written) == set(OUTPUT_TABLES) and written["ml_feature_store_v2"] > 0
    for name in OUTPUT_TABLES:
        assert len(states.after[name]) == len(set(states.after[name])), name
    assert states.after != states.before


def test_killed_run_leaves_each_table_as_before_or_after_and_the_next_run_completes(baseline, concurrent_rerun):
    states = concurrent_rerun
    changed_tables = [name for name in OUTPUT_TABLES if states.before[name] != states.after[name]]
    assert {"player_shot_zone_analysis", "player_daily_cache", "ml_feature_store_v2"} <= set(changed_tables)
    project = restore(baseline.workdir, states.modified_db)
    log_dir = baseline.root / "logs_killed"  # a fresh log file, polled for the merge statement
    shutil.rmtree(log_dir, ignore_errors=True)
    log = log_dir / "dbt.log"
    merge = 'merge into "nba"."dev_nba_precompute"."player_daily_cache"'

    run = subprocess.Popen([DBT, "run", "--vars", RANGE_VARS], cwd=REPO, env={**project.env, "DBT_LOG_PATH": str(log_dir)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    text = ""
    deadline = time.monotonic() + 300
    while run.poll() is None and time.monotonic() < deadline:
        if log.exists():
            text = log.read_text(errors="replace")
        if merge in text:
            os.kill(run.pid, signal.SIGKILL)  # inside player_daily_cache's merge transaction
            break
        time.sleep(0.01)
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, f"the run ended by itself ({run.returncode}) before the merge was seen"

    killed = hash_state(project.db)
    verdict = {}
    for name in OUTPUT_TABLES:
        if killed[name] == states.before[name]:
            verdict[name] = "before"
        elif killed[name] == states.after[name]:
            verdict[name] = "after"
        else:
            verdict[name] = "half-written"
        assert counts_per_date(killed)[name] in (counts_per_date(states.before)[name], counts_per_date(states.after)[name])
    assert "half-written" not in verdict.values(), verdict
    committed = "On model.nba_precompute.player_daily_cache: COMMIT" in text.split(merge, 1)[1]
    if not committed:
        assert verdict["player_daily_cache"] == "before", verdict
    assert verdict["player_shot_zone_analysis"] == "after", verdict  # finished before the kill
    assert verdict["ml_feature_store_v2"] == "before", verdict  # never started

    # The next run completes normally and ends where a clean run ends.
    result = project.dbt("run", "--vars", RANGE_VARS)
    assert result.returncode == 0
    assert hash_state(project.db) == states.after


# --------------------------------------------------------------------------------------------------
# 5. Output schema: all-NULL columns of the Python models, leftover temp tables
# --------------------------------------------------------------------------------------------------


def null_typed_columns(project: DbtProject) -> list:
    return project.query("""
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema like 'dev_%' and data_type like '%"NULL"%' order by 1, 2, 3
    """)


def test_python_model_temp_tables_are_dropped_after_a_run(concurrent_rerun):
    # dbt-duckdb materializes a Python incremental model's new rows as main.<model>__dbt_tmp<time>
    # and does not drop it: each run leaves two full copies behind.
    # The post-hook drop_leftover_temp_tables removes them.
    assert concurrent_rerun.leftover_tmp_tables == []


def test_no_output_column_is_typed_null_after_a_mid_season_first_build(baseline):
    # The baseline's tables were created by a mid-season build: no placeholder row, so a column
    # that only placeholders fill is all NULL in the first data frame.
    assert null_typed_columns(restore(baseline.workdir, baseline.db)) == []


def test_no_output_column_is_typed_null_after_an_early_season_first_build(never_built):
    # A first build in the season's first 14 days writes only placeholders (features NULL).
    never_built.dbt("seed")  # version 2 reads its feature names from the feature_versions seed
    never_built.dbt("run", "--vars", "{date: 2021-10-22}")
    assert null_typed_columns(never_built) == []


# --------------------------------------------------------------------------------------------------
# 6. Secrets and git hygiene
# --------------------------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "private key (PEM)": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64,}"),
    "service-account JSON key": re.compile(rb'"private_key"\s*:\s*"-----BEGIN'),
    "AWS access key id": re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(rb"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{60,}"),
    "Google API key": re.compile(rb"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "Google OAuth refresh token": re.compile(rb"\b1//0[0-9A-Za-z_\-]{40,}"),
    "Slack token": re.compile(rb"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
}


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def test_no_credentials_in_tracked_files():
    # The patterns do find secrets (samples assembled here, so no secret-shaped text is committed).
    samples = {
        "private key (PEM)": b"-----BEGIN " + b"RSA PRIVATE KEY-----\n" + b"MIIEow" * 20 + b"\n",
        "AWS access key id": b"key = AKIA" + b"ABCDEFGHIJKLMNOP",
        "GitHub token": b"ghp_" + b"a1" * 18,
    }
    for label, sample in samples.items():
        assert SECRET_PATTERNS[label].search(sample), label
    tracked = git("ls-files", "-z").stdout.split("\0")
    tracked = [path for path in tracked if path]
    assert len(tracked) > 50
    hits = []
    for path in tracked:
        file = REPO / path
        if not file.is_file():
            continue
        data = file.read_bytes()
        for label, pattern in SECRET_PATTERNS.items():
            if pattern.search(data):
                hits.append((path, label))
    assert hits == []
    names = {Path(path).name for path in tracked}
    assert "profiles.yml" not in names
    assert not [path for path in tracked if path.endswith((".duckdb", ".duckdb.wal", ".p12", ".pfx", ".jks"))]  # .pem: scanned above
    assert not [path for path in tracked if re.search(r"(key|credential|service[-_]account)[^/]*\.json$", path, re.I)]


def test_profiles_example_reads_every_bigquery_secret_from_env_vars():
    import yaml

    profile = yaml.safe_load((REPO / "profiles.yml.example").read_text())["nba_precompute"]
    bigquery = {name: output for name, output in profile["outputs"].items() if output["type"] == "bigquery"}
    assert set(bigquery) == {"prod", "bigquery_dev"}
    secret_keys = {"keyfile", "keyfile_json", "token", "refresh_token", "client_id", "client_secret",
                   "token_uri", "private_key", "private_key_id", "impersonate_service_account"}
    for name, output in bigquery.items():
        for key in ("method", "keyfile", "project", "location"):
            assert key in output, (name, key)
        for key, value in output.items():
            if key in secret_keys or key in ("method", "project", "dataset", "location"):
                assert re.fullmatch(r"\{\{ env_var\('[A-Z_]+'(, '[^']*')?\)( \| int)? \}\}", str(value)), (name, key, value)
            if key in secret_keys:
                default = re.search(r", '([^']*)'\)", str(value))
                assert default is None or default.group(1) == "", f"{name}.{key} has a non-empty default"
        assert "keyfile_json" not in output and "private_key" not in output


def test_no_virtualenv_is_tracked():
    tracked = [path for path in git("ls-files").stdout.splitlines() if path.endswith("pyvenv.cfg")]
    assert tracked == [], f"a virtualenv is committed: {sorted(str(Path(p).parent) for p in tracked)}"


def test_local_profile_and_databases_are_git_ignored():
    paths = ["profiles.yml", "data/nba.duckdb", "target/ci.duckdb", "anything.duckdb", "data/nba.duckdb.wal",
             "target/run_results.json", "logs/dbt.log"]
    result = git("check-ignore", "--no-index", *paths)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(paths)
