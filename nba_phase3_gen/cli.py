"""Command line: argument checks (exit status 2 with one line on stderr) and progress output."""

import argparse
import os
import re
import sys
from datetime import date, datetime

import duckdb

from .generate import generate
from .league import FIRST_SEASON, LAST_SEASON

PROG = "nba_phase3_gen"


class UsageError(Exception):
    """A bad argument; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=f"python -m {PROG}",
                     description="Generate realistic NBA Phase 3 analytics tables into a DuckDB file.")
    parser.add_argument("--db", required=True, help="DuckDB file to write (created if missing)")
    parser.add_argument("--seasons", type=int, default=1, help="number of consecutive seasons (default 1)")
    parser.add_argument("--start-season", type=int, default=FIRST_SEASON,
                        help=f"first season start year, {FIRST_SEASON}-{LAST_SEASON} (default {FIRST_SEASON})")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--until", help="YYYY-MM-DD: games on or after this date are only scheduled")
    return parser


def _until(text: str | None) -> date | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise UsageError(f"--until must be a date YYYY-MM-DD (got {text!r})")
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UsageError(f"--until is not a valid date (got {text!r})") from None


def _seasons(start: int, count: int) -> list:
    if count < 1:
        raise UsageError(f"--seasons must be at least 1 (got {count})")
    if not FIRST_SEASON <= start <= LAST_SEASON:
        raise UsageError(f"--start-season must be between {FIRST_SEASON} and {LAST_SEASON} (got {start})")
    if start + count - 1 > LAST_SEASON:
        raise UsageError(f"--seasons {count} from {start} runs past the last supported season {LAST_SEASON}")
    return list(range(start, start + count))


def _check_db_path(path: str) -> None:
    if not path or os.path.isdir(path):
        raise UsageError(f"--db must be a file path, not a directory (got {path!r})")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"--db directory does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"--db is not writable: {path}")
    try:
        duckdb.connect(path).close()
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--db cannot be opened as a DuckDB database: {first_line}") from None


def _log(message: str) -> None:
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        seasons = _seasons(args.start_season, args.seasons)
        until = _until(args.until)
        if args.seed < 0:
            raise UsageError(f"--seed must be a non-negative integer (got {args.seed})")
        _check_db_path(args.db)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    counts = generate(args.db, seasons, args.seed, until, _log)
    _log("rows per table: " + ", ".join(f"{name}={n}" for name, n in counts.items()))
    return 0
