"""Nightly run for one date: `dbt build` for that date, gated by source freshness.

The build's on-run-start guard is the freshness gate (docs/guards.md): freshness is measured as of
the date's nightly run (--date at nightly_run_time in league_timezone, or the wall clock for today):
only rows first delivered by then count, and their age at that time is compared with the thresholds
(freshness_* vars; box scores and the schedule were due after the last game date). A stale source
stops the run before anything is written, and this script repeats the guard's message, which names
each stale source and its lag; otherwise every model and test is built for --date with the
completeness and feature-health gates as errors.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from output_files import UserError, lock_message, open_database  # noqa: E402


def locked(result) -> str | None:
    """The lock message when a dbt invocation failed on a DuckDB lock another process holds."""
    error = getattr(result, "exception", None)
    return lock_message(os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb"), error) if error else None


def check_not_locked() -> str | None:
    """On the local DuckDB target: the lock message when another process holds the database (a
    second `make daily`, a build, a report), before dbt fails on it with a traceback."""
    db = os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb")
    if os.environ.get("DBT_TARGET", "dev") != "dev" or not Path(db).exists():
        return None
    try:
        open_database(db, read_only=False).close()
    except UserError as error:
        return str(error)
    return None


def iso_date(text: str) -> str:
    """argparse type: a real calendar date as YYYY-MM-DD (names the option when it is not)."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"DATE is '{text}', expected a date as YYYY-MM-DD") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--date", required=True, type=iso_date, help="game date to build, YYYY-MM-DD")
    parser.add_argument("--extra-vars", default="", help="extra vars, e.g. 'freshness_error_hours: 100000'")
    args = parser.parse_args()
    busy = check_not_locked()
    if busy:
        print(f"Daily run stopped, nothing was built: {busy}", file=sys.stderr)
        return 1
    extra = f", {args.extra_vars}" if args.extra_vars else ""
    run_vars = f"{{date: {args.date}, completeness_severity: error, feature_health_severity: error{extra}}}"
    from dbt.cli.main import dbtRunner

    # One dbt invocation a night: its on-run-start guard is the freshness gate (check_freshness_in_build
    # measures each source once, before any model runs). Unit tests check code, not data: they run in
    # CI (make test), not every night.
    build = dbtRunner().invoke(["build", "--exclude-resource-type", "unit_test", "--vars", run_vars])
    if build.success:
        return 0
    lock = locked(build)
    if lock:  # taken between the check above and dbt's connection
        print(f"Daily run stopped, nothing was built: {lock}", file=sys.stderr)
    elif build.exception is not None:
        # dbt stopped before running the nodes: the vars did not parse, or the on-run-start guard
        # refused (stale sources, a date outside every season, ...); its message names the cause.
        print(f"Daily run stopped: {getattr(build.exception, 'msg', None) or build.exception}", file=sys.stderr)
    else:
        busy = check_not_locked()
        if busy:
            print(f"Daily run stopped: {busy}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
