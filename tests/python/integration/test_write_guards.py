"""Write guards (docs/guards.md): the completeness gates judge the window the run builds, whatever the
command; no merge removes every row of a date that still has games unless the operator names the
date; an output's own column rules run on the new rows before the merge writes them.

Every test starts from a copy of one database: the demo's full build (every date, every output and
consumer), then `+ml_feature_store_v2` for LATER alone, so that int_run_dates holds another window
than the one the faulty run builds (as after any daily run)."""
from __future__ import annotations

import re

import pytest

from dbt_harness import OUTPUT_TABLES, PREDICTIONS, DbtProject, build_models, output_of

RANGE = ("2021-11-22", "2021-12-01")
DAY = "2021-11-30"  # the date each fault hits
LATER = "2021-12-01"  # the window of the last build before the fault
BACKFILL = f"{{start_date: {RANGE[0]}, end_date: {RANGE[1]}, completeness_severity: warn}}"  # make backfill's vars
# Every table a backfill merges, with its date column: the five outputs and the three consumers.
TABLES = {
    **{name: (schema, column) for name, (schema, column, _, _) in OUTPUT_TABLES.items()},
    "ml_training_examples": (PREDICTIONS, "game_date"),
    "feature_health": (PREDICTIONS, "game_date"),
    "slate_coverage": (PREDICTIONS, "game_date"),
}
DELETED = re.compile(r"rows deleted: (\w+) = (\d+)")


@pytest.fixture(scope="module")
def built_db(tmp_path_factory, full_build):
    project = DbtProject(tmp_path_factory.mktemp("write_guards"), full_build.db)
    build_models(project, "--select", "+ml_feature_store_v2", "--vars", f"{{date: {LATER}}}")
    return project.db


@pytest.fixture
def built(tmp_path, built_db):
    return DbtProject(tmp_path, built_db)


def rows_of(project: DbtProject, name: str, day: str = DAY) -> set:
    """Every row (every column, write times too) of one table on one date."""
    schema, column = TABLES[name]
    rows = project.query(f"select * from {schema}.{name} where {column} = ?", [day])
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows}


def every_table(project: DbtProject, day: str = DAY) -> dict:
    return {name: rows_of(project, name, day) for name in TABLES}


def slate(project: DbtProject, day: str = DAY) -> list:
    return project.query("select distinct game_id from nba_raw.nbac_schedule where game_date = ? order by 1", [day])


@pytest.mark.parametrize("command", [
    ["run", "--select", "+ml_feature_store_v2"],  # the fault: `dbt run` selects no test
    ["build", "--select", "+ml_feature_store_v2", "--exclude", "tag:gate", "--exclude-resource-type", "unit_test"],
])
def test_a_run_without_the_gate_tests_judges_them_on_the_window_it_builds(built, command):
    """One game of DAY has no upcoming player context: DAY's slate would lose its players. The
    gates must see it although int_run_dates held LATER when the run started."""
    project = built
    (game,) = slate(project)[0]
    project.execute("delete from nba_analytics.upcoming_player_game_context where game_id = ?", [game])
    before = rows_of(project, "ml_feature_store_v2")
    assert len(before) > 0
    result = project.dbt(*command, "--vars", f"{{date: {DAY}}}", check=False)
    text = output_of(result)
    assert result.returncode != 0, text[-3000:]
    assert "completeness_gate_upcoming_context" in text and f"game_id={game}" in text and f"game_date={DAY}" in text
    assert "nothing was written" in text
    assert rows_of(project, "ml_feature_store_v2") == before


def test_a_backfill_keeps_a_date_whose_upcoming_context_was_purged(built):
    """make backfill (gates warn) with every upcoming row of DAY purged: DAY keeps every row in
    every table, the other dates are built, and the log names the date and the gate."""
    project = built
    before = every_table(project)
    assert all(before[name] for name in OUTPUT_TABLES)
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        project.execute(f"delete from nba_analytics.{table} where game_date = ?", [DAY])
    result = build_models(project, "--vars", BACKFILL)
    text = output_of(result)
    assert every_table(project) == before
    assert f"kept the existing rows of {DAY} in ml_feature_store_v2" in text, text[-3000:]
    assert f"completeness_gate_upcoming_context failed for {DAY}" in text
    assert {name: int(n) for name, n in DELETED.findall(text)}.get("ml_feature_store_v2") == 0


def test_a_merge_that_would_empty_a_scheduled_date_stops_naming_it(built):
    """The upcoming context of DAY's games arrives dated a later day: every gate passes (each game
    has context), but DAY's slate is empty, so each merge would delete every row of DAY (a share
    of the window under max_delete_share). The merge stops and names the date and the var to pass."""
    project = built
    before = every_table(project)
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        project.execute(f"update nba_analytics.{table} set game_date = date '2021-12-02' where game_date = ?", [DAY])
    result = build_models(project, "--vars", BACKFILL, check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert re.search(rf"stopped before writing: it would delete every row of {DAY} \(all {len(before['player_daily_cache'])} rows\)", text), text[-3000:]
    assert f"allow_delete_dates: [{DAY}]" in text
    assert every_table(project) == before


@pytest.mark.check
def test_the_operator_deletes_a_date_by_naming_it(built):
    """allow_delete_dates names DAY: its rows go (the slate has no context), and the log counts them."""
    project = built
    feature_rows = len(rows_of(project, "ml_feature_store_v2"))
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        project.execute(f"delete from nba_analytics.{table} where game_date = ?", [DAY])
    result = build_models(project, "--vars", BACKFILL[:-1] + f", allow_delete_dates: [{DAY}]}}")
    text = output_of(result)
    assert rows_of(project, "ml_feature_store_v2") == set()
    assert rows_of(project, "player_daily_cache") == set()
    assert f"allow_delete_dates: deleting {feature_rows} of {feature_rows} rows of {DAY}" in text, text[-3000:]
    assert {name: int(n) for name, n in DELETED.findall(text)}["ml_feature_store_v2"] == feature_rows
    assert rows_of(project, "ml_feature_store_v2", LATER)  # the other dates stay


def test_a_date_dropped_from_the_schedule_still_deletes(built):
    """DAY's games are removed upstream (schedule, box scores, context): DAY is no run date any
    more, and its rows go without any var; the log says why."""
    project = built
    games = [game for (game,) in slate(project)]
    marks = ", ".join("?" * len(games))
    project.execute(f"delete from nba_raw.nbac_schedule where game_id in ({marks})", games)
    for table in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary",
                  "upcoming_player_game_context", "upcoming_team_game_context"):
        project.execute(f"delete from nba_analytics.{table} where game_id in ({marks})", games)
    result = build_models(project, "--vars", BACKFILL)
    text = output_of(result)
    assert rows_of(project, "ml_feature_store_v2") == set()
    assert f"deleting every row of {DAY} in" in text and "the schedule has no games that date any more" in text, text[-3000:]


def test_column_rules_stop_the_merge_before_a_bad_row_is_published(built):
    """95 points in each of a player's last five games before DAY (each box score plausible: at most
    100 points, the points what the makes give) gives him a daily-cache average of 95 on DAY
    (points_avg_last_5 in [0, 80]): the merge stops naming the player and the rule, and the table
    keeps its rows."""
    project = built
    player = project.query(
        "select s.player_lookup from nba_analytics.player_game_summary as s"
        " join nba_analytics.upcoming_player_game_context as u on u.player_lookup = s.player_lookup and u.game_date = ?"
        " where s.game_date < ? and s.minutes_played > 0 group by 1 having count(*) >= 5 order by 1 limit 1", [DAY, DAY])[0][0]
    project.execute(
        "update nba_analytics.player_game_summary set ft_makes = ft_makes + (95 - points), points = 95"
        " where player_lookup = ? and game_id in (select game_id from nba_analytics.player_game_summary"
        "   where player_lookup = ? and game_date < ? and minutes_played > 0 order by game_date desc limit 5)",
        [player, player, DAY])
    before = rows_of(project, "player_daily_cache")
    result = build_models(project, "--select", "+player_daily_cache", "--vars", f"{{date: {DAY}}}", check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert "stopped before writing" in text and "player_daily_cache_column_rules" in text, text[-3000:]
    assert f"player_lookup={player}" in text and "broken_rule=points_avg_last_5 between 0 and 80" in text
    assert rows_of(project, "player_daily_cache") == before
    schema = OUTPUT_TABLES["player_daily_cache"][0]
    assert project.query(f"select count(*) from {schema}.player_daily_cache where points_avg_last_5 > 80")[0][0] == 0
