"""Share dbt's partial parse between dbt invocations that use different target directories.

dbt saves its parse in `<target>/partial_parse.msgpack` and reuses it when the project's files, the
--vars, the profile's values and the target match what it was saved with (it re-parses any file
whose checksum changed, and everything when the vars, profile or target differ). A check that gives
every invocation its own target directory (the test projects, the emulator run's steps) would
therefore pay a full parse (5-10 CPU-seconds) each time. `shared_parse` keeps one saved parse per
(project, database, target, --vars/--profile/--target) in a cache directory: before an invocation
the matching one, if any, is put in its target directory, and after it the parse dbt wrote is kept
for the next invocation with the same identity. dbt still decides whether the parse is reusable.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def shared_parse(cache: Path | None, env: dict, args: list[str] | tuple[str, ...]):
    """Around one `dbt <args>` with environment `env` (DBT_TARGET_PATH must be set); no-op when
    `cache` is None."""
    if cache is None:
        yield
        return
    flags = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("--vars", "--profile", "--target")]
    identity = [env.get(name) for name in ("DBT_PROJECT_DIR", "DBT_DUCKDB_PATH", "DBT_TARGET")] + flags
    saved = Path(cache) / f"{hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]}.msgpack"
    own = Path(env["DBT_TARGET_PATH"]) / "partial_parse.msgpack"
    if saved.exists():
        own.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(saved, own)
    yield
    if not saved.exists() and own.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        partial = saved.with_suffix(f".{os.getpid()}.tmp")
        shutil.copy(own, partial)
        os.replace(partial, saved)  # atomic: another process may write the same key
