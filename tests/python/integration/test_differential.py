"""Differential test: after any upstream correction, an incremental re-run of a window equals a full
refresh of the same window, on every column of the five output tables but the bookkeeping ones.

A seeded generator of upstream corrections touches the Phase 3 sources as an upstream re-run writes
them (new values, a new `data_hash`, a newer `processed_at`). Each scenario runs alone on a copy of
one base build of the window, so a wide change cannot hide a narrow one:

  values        a value of source columns far back (October) and near the window, one column per row
  game_result   the result of one game (win_flag of both team-offence rows)
  dnp_and_back  a played game corrected to a DNP, then back to the original row
  slate         one player leaves the slate of a window date, a new player joins another
  late_game     a game whose box scores were missing arrives
  duplicate     source rows re-delivered unchanged with a newer processed_at: nothing to write
  schedule      a final game of the window goes back to scheduled

The `values` scenario of seed s corrects the columns in group s % VALUE_GROUPS of every source column a
model can read (derived from the sources: every column but keys and bookkeeping), so
VALUE_GROUPS consecutive seeds change every column. `make test-differential SEEDS=50` runs every
scenario alone for each of 50 seeds. CI (`make test`) runs each scenario once, in three batches (BATCHES),
each batch's corrections applied together on one copy: every row is still compared with the full
refresh and the re-run must write exactly the rows that differ from the base build, so a wrong or
spurious write in one correction shows whatever the others change; each batch keeps its scenarios'
own checks (prop_line + duplicate: only version 2's one row is written). Set
DIFFERENTIAL_REPORT=<file> to get the rows each run rewrote as JSON.
"""
from __future__ import annotations

import fnmatch
import json
import os
import random
import re
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_harness import OUTPUT_TABLES, REPO, DbtProject, output_of, rows_written

WINDOW = ("2021-11-24", "2021-12-01")
SELECT = ["--select", "+ml_feature_store_v2"]
WINDOW_VARS = (f"{{start_date: {WINDOW[0]}, end_date: {WINDOW[1]}, completeness_severity: warn, "
               "freshness_as_of: '2021-12-01 11:00:00', allow_full_refresh_of_window: true}")
CORRECTED_AT = "2021-12-01 09:00:00"  # after every demo load, before the freshness as-of time
LATE_GAME_DATE = "2021-11-26"
VALUE_GROUPS = 3
SOURCES = {  # table -> the columns that identify a row (the rest are values a correction may change)
    "nba_analytics.player_game_summary": ("player_lookup", "universal_player_id", "game_id", "game_date", "team_abbr",
                                          "opponent_team_abbr", "season_year"),
    "nba_analytics.team_offense_game_summary": ("game_id", "game_date", "team_abbr", "opponent_team_abbr",
                                                "season_year"),
    "nba_analytics.team_defense_game_summary": ("game_id", "game_date", "defending_team_abbr", "opponent_team_abbr",
                                                "season_year"),
    "nba_analytics.upcoming_player_game_context": ("player_lookup", "universal_player_id", "game_id", "game_date",
                                                   "team_abbr", "opponent_team_abbr"),
    "nba_analytics.upcoming_team_game_context": ("team_abbr", "game_id", "game_date", "season_year",
                                                 "opponent_team_abbr"),
}
SCHEDULE = "nba_raw.nbac_schedule"
SOURCE_BOOKKEEPING = ("data_hash", "processed_at", "created_at")
PROPS = "nba_raw.odds_api_player_points_props"
SCENARIOS = ["game_result", "values", "dnp_and_back", "slate", "late_game", "duplicate", "schedule", "prop_line"]


def bookkeeping_patterns() -> list[str]:
    """The columns no row hash covers, as dbt_project.yml declares them (var hash_bookkeeping_columns)."""
    project = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    return project["vars"]["hash_bookkeeping_columns"]


BOOKKEEPING = bookkeeping_patterns()


def seeds() -> list[int]:
    return list(range(1, int(os.environ.get("DIFFERENTIAL_SEEDS", "2")) + 1))


# make test's batches: every scenario once. dnp_and_back runs alone (it re-runs twice, back to the base
# build); prop_line and duplicate together still write exactly one row (version 2's).
BATCHES = [("dnp_and_back",), ("prop_line", "duplicate"), ("values", "game_result", "slate", "late_game", "schedule")]
assert sorted(sum(BATCHES, ())) == sorted(SCENARIOS)


def cases() -> list[tuple[tuple[str, ...], int]]:
    """(scenarios, seed) pairs: every scenario alone for every seed when DIFFERENTIAL_ALL is set (make
    test-differential), else the BATCHES spread over the seeds."""
    run = seeds()
    if os.environ.get("DIFFERENTIAL_ALL"):
        return [((name,), seed) for seed in run for name in SCENARIOS]
    return [(batch, run[index % len(run)]) for index, batch in enumerate(BATCHES)]


# --------------------------------------------------------------------------------------------------
# Builds and comparison
# --------------------------------------------------------------------------------------------------


def run_window(project: DbtProject, *extra: str):
    result = project.dbt("run", *SELECT, "--vars", WINDOW_VARS, *extra, check=False)
    assert result.returncode == 0, output_of(result)[-4000:]
    return result


def window_rows(project: DbtProject) -> dict:
    """{table: {key: {column: value}}} of the window's rows of the five output tables, without the
    bookkeeping columns."""
    state = {}
    with duckdb.connect(str(project.db), read_only=True) as con:
        for name, (schema, date_column, key, _) in OUTPUT_TABLES.items():
            columns = [row[0] for row in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?"
                " order by ordinal_position", [schema, name]).fetchall()]
            kept = [c for c in columns if not any(fnmatch.fnmatch(c, p) for p in BOOKKEEPING)]
            rows = con.execute(
                f"select {', '.join(kept)} from {schema}.{name}"
                f" where {date_column} between date '{WINDOW[0]}' and date '{WINDOW[1]}'").fetchall()
            state[name] = {tuple(row[kept.index(k)] for k in key): dict(zip(kept, row)) for row in rows}
    return state


def differences(incremental: dict, rebuilt: dict) -> list[str]:
    """Human-readable differences (first 10 per table) between two window_rows states."""
    found = []
    for name in OUTPUT_TABLES:
        left, right = incremental[name], rebuilt[name]
        problems = [f"{name} {key}: only after the incremental run" for key in left.keys() - right.keys()]
        problems += [f"{name} {key}: only after the full refresh" for key in right.keys() - left.keys()]
        for key in sorted(left.keys() & right.keys()):
            changed = [c for c in right[key] if left[key].get(c) != right[key][c]]
            if changed or left[key].keys() != right[key].keys():
                problems.append(f"{name} {key}: " + ", ".join(
                    f"{c} incremental={left[key].get(c)!r} rebuild={right[key][c]!r}" for c in changed[:3]))
        found += problems[:10] + ([f"{name}: {len(problems) - 10} more"] if len(problems) > 10 else [])
    return found


@pytest.fixture(scope="module")
def base(tmp_path_factory, demo_source_db):
    """The demo data with one game's box scores held back (for late_game), and the window built on it."""
    project = DbtProject(tmp_path_factory.mktemp("differential_base"), demo_source_db)
    with duckdb.connect(str(project.db)) as con:
        game = con.execute(
            "select min(game_id) from nba_analytics.team_offense_game_summary where game_date = ?",
            [LATE_GAME_DATE]).fetchone()[0]
        con.execute("create schema held_back")
        for table in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
            con.execute(f"create table held_back.{table} as select * from nba_analytics.{table} where game_id = ?",
                        [game])
            con.execute(f"delete from nba_analytics.{table} where game_id = ?", [game])
    project.dbt("seed", "--quiet")  # the store's rule on its feature names reads the seed before its merge
    run_window(project)
    return project, window_rows(project)


def scenario_project(tmp_path: Path, base) -> DbtProject:
    return DbtProject(tmp_path, base[0].db)


# --------------------------------------------------------------------------------------------------
# The corrections
# --------------------------------------------------------------------------------------------------


def correct(con, table: str, where: str, assignments: str, params=()) -> int:
    """Update rows as an upstream re-run writes them: new values, new data_hash, newer processed_at."""
    changed = con.execute(
        f"update {table} set {assignments}, data_hash = md5(data_hash || 'corrected'),"
        f" processed_at = timestamp '{CORRECTED_AT}' where {where}", list(params)).fetchone()[0]
    assert changed >= 1, f"correction of {table} where {where} matched no row"
    return changed


def value_columns(con) -> list[tuple[str, str, str]]:
    """(table, column, type) of every source value column a model can read: all but keys and bookkeeping."""
    found = []
    for table, keys in SOURCES.items():
        schema, name = table.split(".")
        for column, kind in con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = ? and"
                " table_name = ? order by ordinal_position", [schema, name]).fetchall():
            if column not in keys and column not in SOURCE_BOOKKEEPING:
                found.append((table, column, kind))
    return found


def changed_value(con, table: str, column: str, kind: str) -> str:
    """A SQL expression for another valid value of the column."""
    if kind == "BOOLEAN":
        return f"not coalesce({column}, false)"
    if kind in ("BIGINT", "INTEGER"):
        return f"coalesce({column}, 0) + 1"
    if kind == "DOUBLE":
        return f"coalesce({column}, 0) + 0.5"
    values = [row[0] for row in con.execute(f"select distinct {column} from {table} where {column} is not null"
                                            " order by 1").fetchall()]
    other = values[0] if len(values) > 1 else "corrected"
    return f"case when {column} = '{values[0]}' then '{values[-1] if len(values) > 1 else other}' else '{other}' end"


PGS = "nba_analytics.player_game_summary"
# A box score stays possible after a count is corrected: attempts cover makes, the zone attempts
# add up to fg_attempts, and points are what the makes give: more points than the makes give are free
# throws, more makes are more points (the staging gate stg_player_game_summary__rows_are_valid checks all three).
MAKES_POINTS = "2 * (fg_makes - three_pt_makes) + 3 * three_pt_makes + ft_makes"
REPAIR_BOX_SCORE = [
    "paint_attempts = greatest(paint_attempts, paint_makes), mid_range_attempts = greatest(mid_range_attempts,"
    " mid_range_makes), three_pt_attempts = greatest(three_pt_attempts, three_pt_makes)",
    "fg_attempts = paint_attempts + mid_range_attempts + three_pt_attempts",
    "paint_attempts = paint_attempts + greatest(fg_makes - fg_attempts, 0), fg_attempts = greatest(fg_attempts, fg_makes)",
    f"ft_makes = ft_makes + greatest(points - ({MAKES_POINTS}), 0)",
    f"points = coalesce({MAKES_POINTS}, points)",
]


def apply_values(con, rng: random.Random, seed: int) -> None:
    """Group seed % VALUE_GROUPS of the value columns; each column on its own row, far back and near."""
    columns = value_columns(con)
    group = [c for index, c in enumerate(columns) if index % VALUE_GROUPS == seed % VALUE_GROUPS]
    used_teams: set[str] = set()
    for table, column, kind in group:
        team_column = "defending_team_abbr" if "team_defense" in table else "team_abbr"
        periods = [("game_date < date '2021-11-01'", "far"), (f"game_date between date '2021-11-20' and date '{WINDOW[1]}'", "near")]
        if "upcoming" in table:  # context rows exist for the dates being predicted: window dates only
            periods = [(f"game_date between date '{WINDOW[0]}' and date '{WINDOW[1]}'", "window")]
        for period, _ in periods:
            candidates = con.execute(
                f"select game_id, {team_column}, {'player_lookup' if 'player' in table else 'null'} from {table}"
                f" where {period} order by all").fetchall()
            fresh = [c for c in candidates if c[1] not in used_teams] or candidates
            game_id, team, player = rng.choice(fresh)
            used_teams.add(team)
            where = f"game_id = '{game_id}' and {team_column} = '{team}'" + (
                f" and player_lookup = '{player}'" if player else "")
            # fg_attempts is the sum of the zone attempts: it changes through one more paint attempt.
            target = "paint_attempts" if (table, column) == (PGS, "fg_attempts") else column
            correct(con, table, where, f"{target} = {changed_value(con, table, target, kind)}")
            if table == PGS:
                for repair in REPAIR_BOX_SCORE:
                    con.execute(f"update {PGS} set {repair} where {where}")


def apply_game_result(con, rng: random.Random, seed: int) -> None:
    """Flip the result of one game before the window (seed 1: the season's first game, as reported)."""
    games = [row[0] for row in con.execute(
        "select distinct game_id from nba_analytics.team_offense_game_summary"
        f" where game_date < date '{WINDOW[0]}' order by game_id").fetchall()]
    game = "20211019_IND_CHA" if seed == 1 else rng.choice(games)  # seed 1: the game of the report
    assert correct(con, "nba_analytics.team_offense_game_summary", f"game_id = '{game}'",
                   "win_flag = not win_flag") == 2


def played_game(con, rng: random.Random) -> tuple[str, str]:
    """(player, game) of a played game shortly before the window of a player in the window's slate."""
    rows = con.execute(
        "select pgs.player_lookup, pgs.game_id from nba_analytics.player_game_summary as pgs"
        " where pgs.is_active and pgs.minutes_played > 0"
        f" and pgs.game_date between date '2021-11-15' and date '{WINDOW[0]}'"
        " and pgs.player_lookup in (select player_lookup from nba_analytics.upcoming_player_game_context"
        f"   where game_date between date '{WINDOW[0]}' and date '{WINDOW[1]}')"
        " order by all").fetchall()
    return rng.choice(rows)


DNP = ("is_active = false, minutes_played = 0, points = 0, fg_attempts = 0, fg_makes = 0, three_pt_attempts = 0,"
       " three_pt_makes = 0, ft_makes = 0, paint_attempts = 0, paint_makes = 0, mid_range_attempts = 0,"
       " mid_range_makes = 0, assisted_fg_makes = 0, unassisted_fg_makes = 0, usage_rate = null, ts_pct = null")


def apply_slate(con, rng: random.Random, seed: int) -> None:
    """One player leaves a window date's slate; a new player joins another date's (a teammate's row)."""
    table = "nba_analytics.upcoming_player_game_context"
    rows = con.execute(f"select player_lookup, game_date from {table} where game_date between date '{WINDOW[0]}'"
                       f" and date '{WINDOW[1]}' order by all").fetchall()
    leaving, joining_as = rng.sample(rows, 2)
    con.execute(f"delete from {table} where player_lookup = ? and game_date = ?", list(leaving))
    con.execute(
        f"insert into {table} select * replace ('newcomer_{seed}' as player_lookup, 'newcomer_{seed}_001' as"
        f" universal_player_id, md5(data_hash || 'new') as data_hash, timestamp '{CORRECTED_AT}' as processed_at)"
        f" from {table} where player_lookup = ? and game_date = ?", list(joining_as))


def apply_late_game(con, rng: random.Random, seed: int) -> None:
    for table in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
        con.execute(f"insert into nba_analytics.{table} select * replace (timestamp '{CORRECTED_AT}' as processed_at)"
                    f" from held_back.{table}")


def apply_duplicate(con, rng: random.Random, seed: int) -> None:
    """Re-deliver 20 rows of every source unchanged (same data_hash) with a newer processed_at."""
    for table in [*SOURCES, SCHEDULE]:
        con.execute(f"insert into {table} select * replace (timestamp '{CORRECTED_AT}' as processed_at)"
                    f" from {table} using sample 20 rows (reservoir, {seed})")


def apply_schedule(con, rng: random.Random, seed: int) -> None:
    games = [row[0] for row in con.execute(
        f"select game_id from {SCHEDULE} where game_status = 3 and game_date between date '{WINDOW[0]}'"
        f" and date '{WINDOW[1]}' order by 1").fetchall()]
    correct(con, SCHEDULE, f"game_id = '{rng.choice(games)}'", "game_status = 1")


def apply_prop_line(con, rng: random.Random, seed: int) -> None:
    """A book moves one player's line on a window date: every snapshot of his game before tip-off is
    re-delivered 1.5 points higher (version 2's market features read it; version 1 reads no snapshot)."""
    player, game = rng.choice(con.execute(
        f"select distinct props.player_lookup, props.game_id from {PROPS} as props"
        " inner join nba_analytics.upcoming_player_game_context as slate using (player_lookup, game_id)"
        f" where props.minutes_before_tipoff >= 0 and props.game_date between date '{WINDOW[0]}' and date '{WINDOW[1]}'"
        " order by 1, 2").fetchall())
    correct(con, PROPS, "player_lookup = ? and game_id = ? and minutes_before_tipoff >= 0",
            "points_line = points_line + 1.5", [player, game])


APPLY = {"prop_line": apply_prop_line, "values": apply_values, "game_result": apply_game_result, "slate": apply_slate,
         "late_game": apply_late_game, "duplicate": apply_duplicate, "schedule": apply_schedule}


def report(name: str, seed: int, step: str, written: dict) -> None:
    path = os.environ.get("DIFFERENTIAL_REPORT")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"scenario": name, "seed": seed, "step": step, "rows_written": written}) + "\n")


def changed_rows(before: dict, after: dict) -> dict:
    """{table: rows of `after` that are new or differ from `before` on a non-bookkeeping column}: what a
    merge that skips unchanged rows must write."""
    return {name: sum(1 for key, row in after[name].items() if before[name].get(key) != row) for name in OUTPUT_TABLES}


def rerun_writes_exactly_the_changed_rows(project: DbtProject, before: dict, name: str, seed: int, step: str,
                                          expected: dict | None = None) -> dict:
    """Incremental re-run of the window, then a full refresh of it (unless the `expected` state is
    known): equal on every non-bookkeeping column; and the re-run wrote exactly the rows that differ
    from `before` (0 when the correction changes nothing observable)."""
    written = rows_written(run_window(project))
    incremental = window_rows(project)
    if expected is None:
        run_window(project, "--full-refresh")
        expected = window_rows(project)
    problems = differences(incremental, expected)
    assert not problems, f"{name} (seed {seed}, {step}): incremental re-run != rebuild:\n" + "\n".join(problems)
    report(name, seed, step, written)
    assert written == changed_rows(before, expected), f"{name} (seed {seed}, {step}): rows written"
    return written


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("names, seed", cases(), ids=lambda value: "+".join(value) if isinstance(value, tuple) else str(value))
def test_incremental_rerun_after_a_correction_equals_a_full_refresh(names, seed, base, tmp_path):
    project = scenario_project(tmp_path, base)
    name = "+".join(names)
    base_rows = base[1]
    if names == ("dnp_and_back",):
        rng = random.Random(f"{name}-{seed}")
        with duckdb.connect(str(project.db)) as con:
            player, game = played_game(con, rng)
            con.execute("create table held_back.original as select * from nba_analytics.player_game_summary"
                        " where player_lookup = ? and game_id = ?", [player, game])
            correct(con, PGS, "player_lookup = ? and game_id = ?", DNP, [player, game])
        written = rerun_writes_exactly_the_changed_rows(project, base_rows, name, seed, "dnp")
        assert written["player_daily_cache"] > 0 and written["ml_feature_store_v2"] > 0, written
        dnp_rows = window_rows(project)
        with duckdb.connect(str(project.db)) as con:  # back: the original values, re-delivered later still
            con.execute(f"insert into {PGS} select * replace"
                        f" (timestamp '{CORRECTED_AT}' + interval 1 hour as processed_at) from held_back.original")
        # Back to the original box score: the window is the base build's again, and the re-run rewrote
        # exactly the rows the DNP had changed.
        rerun_writes_exactly_the_changed_rows(project, dnp_rows, name, seed, "back", expected=base_rows)
        return
    assert "dnp_and_back" not in names, "dnp_and_back runs alone"
    with duckdb.connect(str(project.db)) as con:
        for scenario in names:
            APPLY[scenario](con, random.Random(f"{scenario}-{seed}"), seed)
    if names == ("duplicate",):  # the same rows again: nothing observable changes, nothing is written
        written = rerun_writes_exactly_the_changed_rows(project, base_rows, name, seed, "rerun", expected=base_rows)
        assert written == {table: 0 for table in OUTPUT_TABLES}
        return
    written = rerun_writes_exactly_the_changed_rows(project, base_rows, name, seed, "correction")
    if set(names) & {"values", "game_result", "late_game", "slate"}:
        assert sum(written.values()) > 0, f"{name}: the correction changed no output row"
    if set(names) <= {"prop_line", "duplicate"} and "prop_line" in names:
        # one player's row of version 2 moves; version 1 reads no snapshot; a re-delivery writes nothing
        assert written == {table: int(table == "ml_feature_store_v2_v2") for table in OUTPUT_TABLES}, written


KIND_OF_TYPE = {"VARCHAR": "string", "BIGINT": "int", "INTEGER": "int", "BOOLEAN": "bool", "DOUBLE": "float",
                "DATE": "date", "DOUBLE[]": "float_array", "VARCHAR[]": "string_array",
                "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp"}


@pytest.mark.parametrize("schema, table, hash_column", [
    *[(schema, name, "data_hash") for name, (schema, *_) in OUTPUT_TABLES.items()],
    ("dev_nba_staging", "int_player_composite_factors__inputs", "input_fingerprint"),
    ("dev_nba_staging", "int_ml_feature_store__inputs", "input_fingerprint"),
])
@pytest.mark.check
def test_stored_hashes_equal_an_independent_rendering_of_every_non_bookkeeping_column(schema, table, hash_column,
                                                                                      base):
    """data_hash / input_fingerprint of every stored row == md5 of the row's values rendered one by
    one in Python (hash_reference), over every column but the bookkeeping ones, in table order."""
    from hash_reference import reference_row_hash

    with duckdb.connect(str(base[0].db), read_only=True) as con:
        columns = con.execute("select column_name, data_type from information_schema.columns where table_schema = ?"
                              " and table_name = ? order by ordinal_position", [schema, table]).fetchall()
        kinds = {name: ("float" if kind.startswith("DECIMAL") else KIND_OF_TYPE[kind]) for name, kind in columns
                 if name != hash_column and not any(fnmatch.fnmatch(name, p) for p in BOOKKEEPING)}
        frame = con.execute(f"select * from {schema}.{table}").df()
    assert len(frame) > 100
    assert "code_version" in kinds or hash_column == "data_hash"
    assert frame[hash_column].tolist() == reference_row_hash(frame, kinds)


def test_a_column_added_to_a_model_is_hashed_without_editing_a_list(base, tmp_path):
    """A copy of the project whose player_daily_cache returns one more column: the first build covers
    it by itself, and changing only that column's value rewrites exactly the rows whose value changed."""
    project_dir = copy_of_project(tmp_path)
    model = project_dir / "models" / "precompute" / "player_daily_cache.sql"
    text = model.read_text()
    marker = "select\n    final.*,"
    assert marker in text
    model.write_text(text.replace(marker, "select\n    final.*,\n    case when final.player_lookup < 'm'"
                                          " then {{ var('extra_value', 1) }} else 0 end as extra_column,"))
    project = DbtProject(tmp_path / "work", base[0].db, project_dir=project_dir)
    before = project.snapshot("player_daily_cache")
    result = project.dbt("run", *SELECT, "--vars", WINDOW_VARS, "--full-refresh", check=False)
    assert result.returncode == 0, output_of(result)[-3000:]
    with_column = project.snapshot("player_daily_cache")
    assert with_column.keys() == before.keys()
    assert all(with_column[key][0] != before[key][0] for key in before), "the new column is not in data_hash"
    # Only the new column changes, and only for players before 'm': exactly those rows are rewritten.
    result = project.dbt("run", *SELECT, "--vars", WINDOW_VARS[:-1] + ", extra_value: 2}", check=False)
    assert result.returncode == 0, output_of(result)[-3000:]
    after = project.snapshot("player_daily_cache")
    rewritten = {key for key in after if after[key] != with_column[key]}
    expected = {key for key in after if key[0] < "m"}
    assert expected and rewritten == expected
    assert rows_written(result)["player_daily_cache"] == len(expected)


def test_a_model_that_returns_its_derived_hash_column_stops_before_writing(base, tmp_path):
    """data_hash is the project's to derive: a model that returns one of its own is refused by name
    when its table is created, and the table keeps its rows."""
    project_dir = copy_of_project(tmp_path)
    model = project_dir / "models" / "precompute" / "player_daily_cache.sql"
    marker = "select\n    final.*,"
    model.write_text(model.read_text().replace(marker, marker + "\n    'hand-made' as data_hash,"))
    project = DbtProject(tmp_path / "work", base[0].db, project_dir=project_dir)
    before = project.snapshot("player_daily_cache")
    result = project.dbt("run", *SELECT, "--vars", WINDOW_VARS, "--full-refresh", check=False)
    assert result.returncode != 0
    assert ("returns a column data_hash, which the project derives from the model's other columns"
            in output_of(result)), output_of(result)[-3000:]
    assert project.snapshot("player_daily_cache") == before


def copy_of_project(tmp_path: Path) -> Path:
    project_dir = tmp_path / "project"
    shutil.copytree(REPO, project_dir, ignore=shutil.ignore_patterns(
        ".venv*", "target", "logs", "data", ".git", "__pycache__", "dbt_packages"))
    return project_dir


def test_a_changed_model_file_recomputes_its_rows_on_the_next_run(base, tmp_path):
    """No --full-refresh after a code change: a comment added to ml_feature_store_v2.py changes its
    code_version, so the next ordinary run recomputes and rewrites every row of the window with the
    new version; the values stay the same and nothing else is rewritten."""
    import hashlib

    project_dir = copy_of_project(tmp_path)
    model = project_dir / "models" / "predictions" / "ml_feature_store_v2.py"
    model.write_text(model.read_text() + "\n# a reviewer's comment\n")
    project = DbtProject(tmp_path / "work", base[0].db, project_dir=project_dir)
    written = rows_written(run_window(project))
    after = window_rows(project)
    store = after["ml_feature_store_v2"]
    assert written == {name: (len(store) if name == "ml_feature_store_v2" else 0) for name in OUTPUT_TABLES}
    # dbt's checksum of a model file: sha256 of its text without surrounding whitespace.
    new_version = hashlib.sha256(model.read_text().strip().encode()).hexdigest()
    assert {row["code_version"] for row in store.values()} == {new_version}
    old = base[1]["ml_feature_store_v2"]
    assert {row["code_version"] for row in old.values()} != {new_version}
    unchanged = {"code_version", "input_fingerprint"}
    assert {k: {c: v for c, v in r.items() if c not in unchanged} for k, r in store.items()} == \
        {k: {c: v for c, v in r.items() if c not in unchanged} for k, r in old.items()}


def test_a_catch_up_run_reads_each_output_tables_latest_date_once(base, tmp_path):
    """The catch-up window is computed once per invocation: one max(date) query per selected output
    table (the five of +ml_feature_store_v2), however many models and filters ask for the window."""
    project = DbtProject(tmp_path, base[0].db)
    result = project.dbt("run", *SELECT, "--vars", "{completeness_severity: warn, freshness_as_of: '2021-12-01 11:00:00'}",
                         check=False)
    assert result.returncode == 0, output_of(result)[-3000:]
    assert "Run window: catch_up from 2021-12-02" in output_of(result)
    log = (project.workdir / "logs" / "dbt.log").read_text()
    # run_window's reads: `select cast(max(<date column>) as <text type>) from <table>` (no other query has that shape).
    reads = re.findall(r"select cast\(max\(\w+\) as \w+\) from \S+\.\"?(\w+)\"?\s*$", log, flags=re.M)
    read_tables = sorted(reads)
    assert read_tables == sorted(OUTPUT_TABLES)
