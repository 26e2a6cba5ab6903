"""The Makefile reads one database: DB and DBT_DUCKDB_PATH agree in both directions, and `make demo`
with DBT_DUCKDB_PATH set generates and builds in that file."""
from __future__ import annotations

import os
import re
import subprocess

import duckdb
import pytest

from dbt_harness import PREDICTIONS, REPO


def dry_run(target: str, env_extra: dict, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DB", "DBT_DUCKDB_PATH", "CI_DEMO_DIR")}
    result = subprocess.run(["make", "-n", target, *args], cwd=REPO, env={**env, **env_extra},
                            capture_output=True, text=True, check=True)
    return result.stdout


def database_paths(commands: str) -> set:
    """Every DuckDB path the commands name: the generator's --db, show_result's --db, and what dbt reads."""
    paths = set(re.findall(r"--db (\S+)", commands))
    paths |= set(re.findall(r"DBT_DUCKDB_PATH=(\S+)", commands))
    return paths


def test_demo_generates_and_builds_into_dbt_duckdb_path_when_it_is_set(tmp_path):
    target = str(tmp_path / "elsewhere.duckdb")
    commands = dry_run("demo", {"DBT_DUCKDB_PATH": target})
    assert database_paths(commands) == {target}, commands
    # ... and dbt itself reads the same file: make exports DBT_DUCKDB_PATH from DB.
    printed = subprocess.run(["make", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-db"],
                             input="print-db:\n\t@echo $$DBT_DUCKDB_PATH\n", cwd=REPO, capture_output=True, text=True,
                             env={**os.environ, "DBT_DUCKDB_PATH": target}, check=True)
    assert printed.stdout.strip() == target


@pytest.mark.check
def test_db_on_the_command_line_is_what_dbt_reads():
    printed = subprocess.run(["make", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-db", "DB=some/other.duckdb"],
                             input="print-db:\n\t@echo $$DBT_DUCKDB_PATH\n", cwd=REPO, capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "DBT_DUCKDB_PATH"}, check=True)
    assert printed.stdout.strip() == "some/other.duckdb"
    assert database_paths(dry_run("data", {}, "DB=some/other.duckdb")) == {"some/other.duckdb"}


def test_make_demo_with_dbt_duckdb_path_builds_the_store_in_that_file_only(tmp_path):
    """The set-up trap: `DBT_DUCKDB_PATH=/some/file.duckdb make demo` must generate the sources and
    build the feature store in that one file, and leave the default data/nba.duckdb alone."""
    default_db = REPO / "data" / "nba.duckdb"
    before = default_db.stat().st_mtime_ns if default_db.exists() else None
    target_db = tmp_path / "elsewhere" / "demo.duckdb"
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text((REPO / "profiles.yml.example").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("DB", "DBT_DUCKDB_PATH", "DBT_TARGET")}
    env.update(DBT_DUCKDB_PATH=str(target_db), DBT_PROFILES_DIR=str(profiles),
               DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    result = subprocess.run(["make", "--no-print-directory", "demo"], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    with duckdb.connect(str(target_db), read_only=True) as con:
        # Independent expectation: the store writes one row per upcoming-context player of the date.
        slate = con.execute("select count(distinct player_lookup) from nba_analytics.upcoming_player_game_context "
                        "where game_date = date '2021-12-01'").fetchone()[0]
        stored = con.execute(f"select count(*) from {PREDICTIONS}.ml_feature_store_v2 "
                         "where game_date = date '2021-12-01'").fetchone()[0]
    assert slate > 0 and stored == slate
    after = default_db.stat().st_mtime_ns if default_db.exists() else None
    assert after == before, "make demo with DBT_DUCKDB_PATH set touched data/nba.duckdb"


def test_make_test_builds_the_demo_once_and_every_later_step_is_handed_it():
    # One generation and one dbt build of the demo (dbt-test); the groups after it get its directory.
    whole = dry_run("test", {})
    assert whole.count("nba_phase3_gen") == 1 and whole.count(" build --full-refresh") == 1, whole
    assert re.search(r"-j3 .*pytest checks-bigquery checks-project CI_DEMO_DIR=/\S+", whole), whole
    # Alone, the browser check builds the demo first; handed one, it builds nothing and reads a copy.
    alone = dry_run("browser-check", {})
    assert "nba_phase3_gen" in alone and " build " in alone, alone
    handed = dry_run("browser-check", {"CI_DEMO_DIR": "/some/demo"})
    assert "nba_phase3_gen" not in handed and " build " not in handed and " seed " not in handed, handed
    assert "cp /some/demo/nba.duckdb target/browser.duckdb" in handed, handed
    assert database_paths(handed) == {"target/browser.duckdb"}, handed
