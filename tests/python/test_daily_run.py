"""The nightly run (scripts/daily.py, `make daily`): source freshness gates the build."""
from __future__ import annotations

import subprocess
import sys

from dbt_harness import REPO

SOURCES = [
    "nba_raw.nbac_schedule",
    "nba_analytics.player_game_summary",
    "nba_analytics.team_offense_game_summary",
    "nba_analytics.team_defense_game_summary",
    "nba_analytics.upcoming_player_game_context",
    "nba_analytics.upcoming_team_game_context",
]


def daily(project, date: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "scripts/daily.py", "--date", date],
        cwd=REPO, env=project.env, capture_output=True, text=True,
    )


def output_tables(project) -> list[str]:
    return [r[0] for r in project.query(
        "select table_name from information_schema.tables where table_schema in ('dev_nba_precompute', 'dev_nba_predictions')"
    )]


def test_stale_sources_stop_the_daily_run_before_anything_is_built(project):
    # The demo data was processed in 2021: days older than the 72-hour error threshold.
    result = daily(project, "2021-11-30")
    assert result.returncode == 1
    assert "Daily run stopped" in result.stderr
    assert "stale: nba_analytics.player_game_summary" in result.stderr
    assert output_tables(project) == []


def test_fresh_sources_pass_the_gate_and_the_date_is_built(project):
    for table in SOURCES:
        project.execute(f"update {table} set processed_at = cast(now() as timestamp) - interval 1 hour")
    result = daily(project, "2021-11-30")
    assert result.returncode == 0, result.stdout[-3000:]
    built = project.query(
        "select count(*), count(distinct game_date) from dev_nba_predictions.ml_feature_store_v2"
    )[0]
    slate = project.query(
        "select count(distinct player_lookup) from nba_analytics.upcoming_player_game_context where game_date = '2021-11-30'"
    )[0][0]
    assert built == (slate, 1)
    # The build reuses the parse of the freshness check (same --vars): only one full parse a night.
    assert result.stdout.count("Unable to do partial parsing") == 1, result.stdout[:3000]


def test_a_date_outside_every_season_stops_the_daily_run_naming_the_var(project):
    result = daily(project, "2015-01-01")
    assert result.returncode == 1
    assert "var 'date' (2015-01-01) is outside every season" in result.stdout
    assert "`dbt source freshness` failed" in result.stderr
    assert "stale:" not in result.stderr
    assert output_tables(project) == []


def grain_checks(project, *vars_args: str) -> list[str]:
    """Names of the staging and intermediate uniqueness tests a build with these vars would run."""
    result = project.dbt("ls", "--resource-type", "test", "--output", "name", "-q", *vars_args, "--select",
                         "test_name:unique_combination_of_columns,path:models/staging",
                         "test_name:unique_combination_of_columns,path:models/intermediate")
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_staging_and_intermediate_grain_checks_run_in_full_builds_and_not_in_dated_runs(project):
    assert len(grain_checks(project)) == 16  # CI's full build: 6 staging views, 10 intermediate tables
    assert grain_checks(project, "--vars", "{date: 2021-11-30}") == []
    assert grain_checks(project, "--vars", "{start_date: 2021-11-01, end_date: 2021-11-30}") == []
