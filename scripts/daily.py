"""Nightly run for one date: the source-freshness gate, then `dbt build` for that date.

Freshness is measured as of the date's nightly run (--date at nightly_run_time in league_timezone,
or the wall clock for today): only rows loaded by then count, and their age at that time is compared
with the thresholds (freshness_* vars; box scores and the schedule were due after the last game
date). A stale source stops the run before anything is built, with a message that names it and its
lag; otherwise every model and test is built for --date with completeness gates as errors.
"""
from __future__ import annotations

import argparse
import json
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


def stale_sources(results_path: Path) -> list[str]:
    results = json.loads(results_path.read_text())["results"]
    stale = []
    for r in results:
        if r["status"] not in ("error", "runtime error"):
            continue
        name = r["unique_id"].split(".", 2)[-1]
        if r.get("max_loaded_at_time_ago_in_s") is None:
            stale.append(f"{name} ({r['status']}: {r.get('message') or 'no rows loaded'})")
        else:
            lag = r["max_loaded_at_time_ago_in_s"] / 3600
            stale.append(f"{name}: lag {lag:.1f} h (latest load {r.get('max_loaded_at')}, measured at {r.get('snapshotted_at')})")
    return stale


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
    sources_json = Path(os.environ.get("DBT_TARGET_PATH", "target")) / "sources.json"
    sources_json.unlink(missing_ok=True)  # never read a previous night's verdict
    # One dbt in this process, one parse a night: the freshness check and the build reuse the
    # manifest that `dbt parse` returns (dbtRunner(manifest=...)) instead of each loading it again.
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", "--vars", run_vars])
    if not parsed.success:
        print("Daily run stopped: `dbt parse` failed (see the error above), nothing was built.", file=sys.stderr)
        return 1
    runner = dbtRunner(manifest=parsed.result)
    freshness = runner.invoke(["source", "freshness", "--vars", run_vars])
    busy = None if freshness.success else locked(freshness) or check_not_locked()
    if busy:  # taken between the check above and dbt's connection
        print(f"Daily run stopped, nothing was built: {busy}", file=sys.stderr)
        return 1
    if not freshness.success:
        stale = stale_sources(sources_json) if sources_json.exists() else []
        if stale:
            print("Daily run stopped: stale or unreadable sources, nothing was built.", file=sys.stderr)
            for line in stale:
                print(f"  stale: {line}", file=sys.stderr)
        else:
            # e.g. the on-run-start hook rejected the date: dbt printed the reason above.
            print("Daily run stopped: `dbt source freshness` failed (see the error above), nothing was built.",
                  file=sys.stderr)
        return 1
    # Unit tests check code, not data: they run in CI (make test), not every night.
    build = runner.invoke(["build", "--exclude-resource-type", "unit_test", "--vars", run_vars])
    busy = None if build.success else locked(build) or check_not_locked()
    if busy:
        print(f"Daily run stopped: {busy}", file=sys.stderr)
    return 0 if build.success else 1


if __name__ == "__main__":
    sys.exit(main())
