"""Shared by every script that reads the DuckDB database and writes a file (training_set.py,
evaluate.py, feature_health_report.py; daily.py for the lock message):

- `open_database`: a read-only connection, or a UserError naming a missing file or a lock another
  process holds (no traceback);
- `validate_output`: refuses an output path that is the database (the same file, through any path
  or link), any existing DuckDB file, a directory, or a name without the expected suffix;
- `replace_atomically`: writes a set of files that belong together (data and its manifest) under
  temporary names, then swaps them in so that a reader never sees a manifest beside a file it does
  not describe: the old describer (the last file, the manifest) is moved away first, the others are
  renamed in, the new describer last. Any failure on the way puts the old files back and removes
  every temporary file; a run killed in between leaves data without a manifest at worst, and the
  next run removes its leftovers.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
PARTIAL, OLD = ".partial", ".old"


class UserError(Exception):
    """A user-facing error: the scripts print it without a traceback and exit with code 2."""


def is_duckdb_file(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(12)[8:12] == DUCKDB_MAGIC
    except OSError:
        return False


def lock_message(db, error: Exception) -> str | None:
    """The message for a DuckDB lock conflict (None for another error)."""
    text = str(error)
    if "lock" not in text.lower():
        return None
    holder = re.search(r"PID (\d+)", text)
    who = f"process {holder.group(1)}" if holder else "another process"
    return (f"database {db} is locked: {who} holds it (another `make daily`, a dbt build or a script is running on it); "
            "wait for it to finish or stop it, then run this again")


def open_database(db, read_only: bool = True):
    """A connection to the DuckDB file `db`, or UserError naming what is wrong."""
    import duckdb

    path = Path(db)
    if not path.is_file():
        what = "is a directory, not" if path.is_dir() else "does not exist: expected"
        raise UserError(f"database {db} {what} a DuckDB file (make data / make backfill first, or pass DB=...)")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as error:
        message = lock_message(db, error)
        if message:
            raise UserError(message) from None
        raise UserError(f"database {db} cannot be opened as a DuckDB file: {str(error).splitlines()[0]}") from None


def validate_output(out, suffix: str, db, option: str = "OUT") -> Path:
    """`out` as a Path when it may be written; UserError naming the path and why otherwise."""
    path = Path(out)
    if path.is_dir():
        raise UserError(f"{option}={out} is a directory: name a file ending in {suffix} (e.g. {option}={path / ('name' + suffix)})")
    database = Path(db)
    same = path.resolve() == database.resolve()
    if not same and path.exists() and database.exists():
        same = os.path.samefile(path, database)
    if same:
        raise UserError(f"{option}={out} is the DuckDB database ({db}): writing there would destroy it; "
                        f"name another file ending in {suffix}")
    if is_duckdb_file(path):
        raise UserError(f"{option}={out} is an existing DuckDB database: refusing to overwrite it; "
                        f"name another file ending in {suffix}")
    if path.suffix != suffix:
        raise UserError(f"{option}={out} does not end in {suffix}: name a {suffix} file")
    return path


def partial_path(target: Path) -> Path:
    """The temporary name `replace_atomically` writes `target` under (in the same directory)."""
    return target.with_name(target.name + PARTIAL)


def remove_leftovers(targets) -> None:
    """Temporary files a killed run of these targets left behind."""
    for target in targets:
        for leftover in (partial_path(target), target.with_name(target.name + OLD)):
            leftover.unlink(missing_ok=True)


def _rename(source: Path, target: Path) -> None:
    os.replace(source, target)  # one step of the swap (tests inject failures here)


def replace_atomically(writers: dict[Path, Callable[[Path], None]]) -> None:
    """Write every target through its writer (called with a temporary path in the same directory,
    in order), then swap them in as one unit; the last target is the one that describes the others
    (the manifest). Old targets come back on any failure; no temporary file is left."""
    targets = list(writers)
    remove_leftovers(targets)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    partial = {target: partial_path(target) for target in targets}
    backup = {target: target.with_name(target.name + OLD) for target in targets}
    moved, placed = [], []
    try:
        for target, write in writers.items():
            write(partial[target])
        # The describer is moved away first and put in last: no old manifest beside new data.
        for target in reversed(targets):
            if target.exists():
                _rename(target, backup[target])
                moved.append(target)
        for target in targets:
            _rename(partial[target], target)
            placed.append(target)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        for target in moved:
            os.replace(backup[target], target)
        remove_leftovers(targets)
        raise
    remove_leftovers(targets)
