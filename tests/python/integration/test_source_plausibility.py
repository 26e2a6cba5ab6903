"""Absurd but finite source rows stop at staging, named (issue 24, points 5a and 8).

Each case injects one fault into a copy of the demo slice as built for RANGE (the session's range
build), runs a build of ml_feature_store_v2 for DAY and checks that it stops before writing, that
the failure names the staging test, the rule, the source table and the row's key and value, and
that no output table changed. The selection without `+` leaves the staging tests to the guard
(docs/guards.md, check 3), which runs them through the same test macros; the 10,000-points case
runs the `+` build, where the staging test itself fails (before the change: a cast error deep in
player_daily_cache that names no source row).

The expected rule, key and value of each case come from the injected row, never from the code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from conftest import RANGE_END
from dbt_harness import OUTPUT_TABLES, DbtProject, all_states, build_models, output_of

DAY = RANGE_END  # the run date: inside the range build's window, so only a source fault can stop it
HISTORY = "2021-11-20"  # faults land on games before DAY: the run's history
PGS = "nba_analytics.player_game_summary"
OFFENSE = "nba_analytics.team_offense_game_summary"
DEFENSE = "nba_analytics.team_defense_game_summary"
UPCOMING = "nba_analytics.upcoming_player_game_context"
SCHEDULE = "nba_raw.nbac_schedule"


@dataclass
class Expected:
    test: str  # the failing staging test
    source: str  # the source table its failing rows name
    lines: list[dict] = field(default_factory=list)  # per failing row: the fields its line must show


def played(project: DbtProject, offset: int = 0) -> tuple:
    """(player_lookup, game_id, points, makes' points) of an ordinary played box score of HISTORY."""
    return project.query(f"""
        select player_lookup, game_id, points, 2 * (fg_makes - three_pt_makes) + 3 * three_pt_makes + ft_makes
        from {PGS}
        where game_date = date '{HISTORY}' and is_active and minutes_played > 15 and points > 0
        order by player_lookup limit 1 offset {offset}""")[0]


def set_box_score(project: DbtProject, set_sql: str, player: str, game_id: str) -> None:
    project.execute(f"update {PGS} set {set_sql} where player_lookup = ? and game_id = ?", [player, game_id])


def points_above_record(project):
    """250 points in a 21-minute game (the makes unchanged)."""
    player, game_id, _, _ = played(project)
    set_box_score(project, "points = 250, minutes_played = 21", player, game_id)
    return Expected("stg_player_game_summary__rows_are_valid", PGS, [
        {"player_lookup": player, "game_id": game_id, "broken_rule": "points at most 100", "broken_value": "250"}])


def points_not_from_makes(project):
    """Two points more than the makes give: a plausible number that cannot be true."""
    player, game_id, points, from_makes = played(project, 1)
    assert points == from_makes
    set_box_score(project, "points = points + 2", player, game_id)
    return Expected("stg_player_game_summary__rows_are_valid", PGS, [
        {"player_lookup": player, "game_id": game_id, "broken_rule": "points_equal_twos_threes_and_free_throws",
         "broken_value": f"{points + 2} points, the makes give {points}"}])


def one_player_in_three_games(project):
    """A player's box score copied into two other games of the same night (other teams)."""
    player, game_id, _, _ = played(project, 2)
    others = project.query(f"""
        select game_id, home_team_tricode, away_team_tricode from {SCHEDULE}
        where game_date = date '{HISTORY}' and game_id <> ? order by game_id limit 2""", [game_id])
    assert len(others) == 2
    for other, home, away in others:
        project.execute(f"""
            insert into {PGS} by name
            select * replace ('{other}' as game_id, '{home}' as team_abbr, '{away}' as opponent_team_abbr)
            from {PGS} where player_lookup = ? and game_id = ?""", [player, game_id])
    games = ", ".join(sorted([game_id] + [other for other, _, _ in others]))
    return Expected("stg_player_game_summary__rows_are_valid", PGS, [
        {"player_lookup": player, "game_id": game, "game_date": HISTORY,
         "broken_rule": "one_game_per_player_per_date", "broken_value": games}
        for game in sorted([game_id] + [other for other, _, _ in others])])


def usage_above_100(project):
    player, game_id, _, _ = played(project, 3)
    set_box_score(project, "usage_rate = 250.0", player, game_id)
    return Expected("stg_player_game_summary__rows_are_valid", PGS, [
        {"player_lookup": player, "game_id": game_id, "broken_rule": "usage_rate between 0 and 100",
         "broken_value": "250.0"}])


def team_row(project, table: str, team_column: str) -> tuple:
    return project.query(f"select game_id, {team_column} from {table} where game_date = date '{HISTORY}' "
                         f"order by game_id, {team_column} limit 1")[0]


def team_pace_1000(project):
    game_id, team = team_row(project, OFFENSE, "team_abbr")
    project.execute(f"update {OFFENSE} set pace = 1000 where game_id = ? and team_abbr = ?", [game_id, team])
    return Expected("stg_team_offense_game_summary__rows_are_valid", OFFENSE, [
        {"game_id": game_id, "team_abbr": team, "broken_rule": "pace between 70 and 140", "broken_value": "1000.0"}])


def offensive_rating_400(project):
    game_id, team = team_row(project, OFFENSE, "team_abbr")
    project.execute(f"update {OFFENSE} set offensive_rating = 400 where game_id = ? and team_abbr = ?", [game_id, team])
    return Expected("stg_team_offense_game_summary__rows_are_valid", OFFENSE, [
        {"game_id": game_id, "team_abbr": team, "broken_rule": "offensive_rating between 50 and 200",
         "broken_value": "400.0"}])


def defensive_rating_20(project):
    game_id, team = team_row(project, DEFENSE, "defending_team_abbr")
    project.execute(f"update {DEFENSE} set defensive_rating = 20 where game_id = ? and defending_team_abbr = ?",
                    [game_id, team])
    return Expected("stg_team_defense_game_summary__rows_are_valid", DEFENSE, [
        {"game_id": game_id, "defending_team_abbr": team, "broken_rule": "defensive_rating between 50 and 200",
         "broken_value": "20.0"}])


def slate_usage_above_100(project):
    """The upcoming context of DAY's slate: a projected usage rate of 150 %."""
    player, game_id = project.query(f"select player_lookup, game_id from {UPCOMING} where game_date = date '{DAY}' "
                                    "order by player_lookup limit 1")[0]
    project.execute(f"update {UPCOMING} set projected_usage_rate = 150 where player_lookup = ? and game_id = ?",
                    [player, game_id])
    return Expected("stg_upcoming_player_game_context__rows_are_valid", UPCOMING, [
        {"player_lookup": player, "game_id": game_id, "broken_rule": "projected_usage_rate between 0 and 100",
         "broken_value": "150.0"}])


def moved_box_score(project):
    """One player's box score moved to the day before its game: named with the player."""
    player, game_id, _, _ = played(project, 4)
    set_box_score(project, f"game_date = date '{HISTORY}' - 1", player, game_id)
    return Expected("stg_player_game_summary__game_matches_schedule", PGS, [
        {"player_lookup": player, "game_id": game_id, "game_date": "2021-11-19", "schedule_game_date": HISTORY,
         "broken_rule": "game_date differs from the schedule"}])


def points_10000(project):
    player, game_id, _, _ = played(project, 5)
    set_box_score(project, "points = 10000", player, game_id)
    return Expected("stg_player_game_summary__rows_are_valid", PGS, [
        {"player_lookup": player, "game_id": game_id, "broken_rule": "points at most 100", "broken_value": "10000"}])


CASES: dict[str, tuple[Callable, bool]] = {  # case: (inject, run the `+` build)
    "points_above_record": (points_above_record, False),
    "points_not_from_makes": (points_not_from_makes, False),
    "one_player_in_three_games": (one_player_in_three_games, False),
    "usage_above_100": (usage_above_100, False),
    "team_pace_1000": (team_pace_1000, False),
    "offensive_rating_400": (offensive_rating_400, False),
    "defensive_rating_20": (defensive_rating_20, False),
    "slate_usage_above_100": (slate_usage_above_100, False),
    "moved_box_score": (moved_box_score, False),
    "points_10000_with_upstream": (points_10000, True),
}


def failing_row_lines(text: str, source: str) -> list[str]:
    """The printed failing rows of `source` (failing_rows_lines: '<source table>: name=value, ...')."""
    return [line.strip() for line in text.splitlines() if line.strip().startswith(f"{source}: ")]


def shows(line: str, fields: dict) -> bool:
    return all(f"{name}={value}" in line for name, value in fields.items())


@pytest.mark.parametrize("case", [pytest.param(name, marks=pytest.mark.check) if i == 0 else name for i, name in enumerate(CASES)])
def test_implausible_source_row_stops_at_staging_naming_it(tmp_path, range_build, case):
    inject, upstream = CASES[case]
    project = DbtProject(tmp_path, range_build.db, artifacts=upstream)
    before = all_states(project)
    assert all(before[name] for name in OUTPUT_TABLES), "the baseline holds no rows: the test would prove nothing"
    expected = inject(project)

    selection = "+ml_feature_store_v2" if upstream else "ml_feature_store_v2"
    result = build_models(project, "--select", selection, "--vars", f"{{date: {DAY}}}", check=False)

    text = output_of(result)
    assert result.returncode != 0, text[-3000:]
    if upstream:  # dbt runs the staging test, which fails; the on-run-end hook prints its rows
        assert f"Failure in test {expected.test}" in text, text[-3000:]
        assert f"FAIL {expected.test}, first failing rows:" in text, text[-3000:]
        assert "Runtime Error in model" not in text, text[-3000:]
    else:  # the guard runs the unselected staging test before any model
        assert "Gates failed before any model ran (nothing was written)" in text, text[-3000:]
        assert f"{expected.test} ({len(expected.lines)} rows)" in text, text[-3000:]
    lines = failing_row_lines(text, expected.source)
    for fields in expected.lines:
        assert any(shows(line, fields) for line in lines), (fields, lines, text[-3000:])
    after = all_states(project)
    for name in OUTPUT_TABLES:
        assert after[name] == before[name], f"{name} changed"


@pytest.mark.parametrize("selection", ["ml_feature_store_v2", "+ml_feature_store_v2"])
def test_a_renamed_source_column_is_named_with_its_source(tmp_path, range_build, selection):
    """The upstream renames player_game_summary.minutes_played to `minutes`: before, the staging
    view failed in DuckDB's words ("Binder Error: Column minutes_played ...") naming no source.
    Now the run stops before any model, naming the source, the column and the new one."""
    project = DbtProject(tmp_path, range_build.db)
    before = all_states(project)
    project.execute(f"alter table {PGS} rename column minutes_played to minutes")
    result = build_models(project, "--select", selection, "--vars", f"{{date: {DAY}}}", check=False)
    text = " ".join(output_of(result).split())
    assert result.returncode != 0
    assert ("source nba_analytics.player_game_summary" in text and "has no column minutes_played" in text
            and "its columns not declared there: minutes" in text), text[-3000:]
    assert "Binder Error" not in text
    assert all_states(project) == before
