"""The Makefile reads one database: DB and DBT_DUCKDB_PATH agree in both directions."""
from __future__ import annotations

import os
import re
import subprocess

from dbt_harness import REPO


def dry_run(target: str, env_extra: dict, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DB", "DBT_DUCKDB_PATH")}
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


def test_db_on_the_command_line_is_what_dbt_reads():
    printed = subprocess.run(["make", "--no-print-directory", "-f", "Makefile", "-f", "-", "print-db", "DB=some/other.duckdb"],
                             input="print-db:\n\t@echo $$DBT_DUCKDB_PATH\n", cwd=REPO, capture_output=True, text=True,
                             env={k: v for k, v in os.environ.items() if k != "DBT_DUCKDB_PATH"}, check=True)
    assert printed.stdout.strip() == "some/other.duckdb"
    assert database_paths(dry_run("data", {}, "DB=some/other.duckdb")) == {"some/other.duckdb"}
