"""The nightly run (scripts/daily.py, `make daily`): source freshness, as of the run date, gates the build.

One `dbt build` a night: its on-run-start guard measures freshness (once per source) before any model
runs, and a refusal is repeated on stderr with the guard's own words."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from dbt_harness import REPO

SOURCES = [
    "nba_raw.nbac_schedule",
    "nba_analytics.player_game_summary",
    "nba_analytics.team_offense_game_summary",
    "nba_analytics.team_defense_game_summary",
    "nba_analytics.upcoming_player_game_context",
    "nba_analytics.upcoming_team_game_context",
    "nba_raw.odds_api_player_points_props",
]


def daily(project, date: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/daily.py", "--date", date, *extra],
        cwd=REPO, env=project.env, capture_output=True, text=True,
    )


def output_tables(project) -> list[str]:
    return [r[0] for r in project.query(
        "select table_name from information_schema.tables where table_schema in ('dev_nba_precompute', 'dev_nba_predictions')"
    )]


def test_a_past_date_whose_sources_were_loaded_in_time_passes_and_is_built(project):
    # Demo loads: box scores at 08:00-08:10 UTC the morning after the games, the next slate's
    # context at 18:00 UTC the day before. 2021-11-26 is the day after a day without games
    # (Thanksgiving): the box scores of 11-24 were the last ones due, and as of 11-26 06:00 New York
    # (11:00 UTC) every source was on time. (Every dated build of the other tests passes the same
    # freshness gate on an ordinary day.)
    result = daily(project, "2021-11-26")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    built = project.query(
        "select count(*), count(distinct game_date) from dev_nba_predictions.ml_feature_store_v2"
    )[0]
    slate = project.query(
        "select count(distinct player_lookup) from nba_analytics.upcoming_player_game_context where game_date = '2021-11-26'"
    )[0][0]
    assert built == (slate, 1)
    # Freshness is computed once a night: one freshness query per source (freshness_sql), in the
    # build's guard, not a second time by a separate `dbt source freshness`.
    log = (project.workdir / "logs" / "dbt.log").read_text()
    assert log.count("as snapshotted_at") == len(SOURCES), log.count("as snapshotted_at")


@pytest.mark.check
def test_a_late_load_stops_the_daily_run_naming_the_source_and_its_lag(project):
    # The box scores of 2021-11-19 arrive 30 hours late: at 11-20's nightly run (11:00 UTC) the latest
    # box scores loaded were 11-18's, loaded 2021-11-19 08:02 UTC: 26.97 hours earlier (> 24).
    # (A first delivery: created_at, the delivery time freshness reads, moves with processed_at.)
    project.execute("update nba_analytics.player_game_summary set processed_at = processed_at + interval 30 hour, "
                    "created_at = created_at + interval 30 hour where game_date = '2021-11-19'")
    result = daily(project, "2021-11-20")
    assert result.returncode == 1
    assert "Daily run stopped" in result.stderr
    assert "Daily run stopped: Stale sources as of the run (nothing was written)" in result.stderr, result.stderr
    assert ("nba_analytics.player_game_summary: latest load 2021-11-19 08:02:00, 27.0 h before "
            "2021-11-20 11:00:00 UTC (error after 24.0 h)") in result.stderr, result.stderr
    assert "team_offense_game_summary" not in result.stderr  # loaded on time
    assert output_tables(project) == []


def test_todays_run_is_measured_on_the_wall_clock(project):
    # One game of the demo's last slate (2021-12-01) is moved to today, with its upcoming context.
    now = datetime.now(timezone.utc)
    today = now.astimezone(ZoneInfo("America/New_York")).date()
    game = project.query("select game_id from nba_raw.nbac_schedule where game_date = '2021-12-01' order by 1 limit 1")[0][0]
    moved = f"'{today:%Y%m%d}{game[8:]}' as game_id, date '{today}' as game_date"
    for table in ("nba_raw.nbac_schedule", "nba_analytics.upcoming_player_game_context",
                  "nba_analytics.upcoming_team_game_context"):
        project.execute(f"insert into {table} select * replace ({moved}) from {table} where game_id = ?", [game])
    # (The readiness gate would stop this slate: its players have no history in the window.)
    extra = ["--extra-vars", "check_window_against_schedule: false, slate_ready_min_share: 0"]
    stale = daily(project, today.isoformat(), *extra)
    after = datetime.now(timezone.utc)
    # The context of today's game was loaded in 2021: years before now.
    assert stale.returncode == 1
    lag = re.search(r"nba_analytics.upcoming_player_game_context: latest load [^,]+, (\d+\.\d) h before (\S+ \S+) UTC",
                    stale.stderr)
    assert lag and float(lag.group(1)) > 24 * 365 * 4, stale.stderr
    # Measured during the run (or earlier today, at the nightly run time), not at a date of the data;
    # the run ends after `now` was read, so the bound is the time after the run.
    measured = datetime.fromisoformat(lag.group(2)).replace(tzinfo=timezone.utc)
    assert 0 <= (after - measured).total_seconds() < 24 * 3600, lag.group(2)
    for table in SOURCES:
        project.execute(f"update {table} set processed_at = cast(now() as timestamp) - interval 1 hour, "
                        "created_at = cast(now() as timestamp) - interval 1 hour")
    fresh = daily(project, today.isoformat(), *extra)
    assert fresh.returncode == 0, fresh.stdout[-3000:] + fresh.stderr[-2000:]


def test_a_date_outside_every_season_stops_the_daily_run_naming_the_var(project):
    result = daily(project, "2015-01-01")
    assert result.returncode == 1
    assert "var 'date' (2015-01-01) is outside every season" in result.stdout
    assert "Daily run stopped: Run window: var 'date' (2015-01-01) is outside every season" in result.stderr, result.stderr
    assert "Stale sources" not in result.stderr
    assert output_tables(project) == []


def test_vars_dbt_cannot_read_stop_the_daily_run_before_anything_is_built(project):
    # The night's one parse fails (the extra vars are not YAML): the build does not start.
    result = daily(project, "2021-11-20", "--extra-vars", "freshness_error_hours: [1")
    assert result.returncode == 1
    assert "Daily run stopped: " in result.stderr, result.stderr
    assert "Stale sources" not in result.stderr
    assert output_tables(project) == []
