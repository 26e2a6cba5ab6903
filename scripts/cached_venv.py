"""Side virtualenvs (the BigQuery emulator's, Spark's), built once per set of pins and reused by every
clone of the project: `make test` on a clean clone finds them ready instead of installing them again.

A venv lives in `$XDG_CACHE_HOME/nba_precompute/` (default `~/.cache/nba_precompute/`) in a folder
named by a hash of what is installed in it: the requirement lines and the interpreter's version.
Changing a pin therefore gives a new folder; nothing has to be remembered to invalidate the old one.
A venv counts as built only once its `.complete` marker exists, so an interrupted install is rebuilt.
Two processes asking for the same venv at once (the emulator runs of two checkouts side by side)
take a lock: the second waits for the first's install and reuses it.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file's text, without comments and blank lines."""
    return [line for line in (raw.split("#")[0].strip() for raw in text.splitlines()) if line]


def venv_path(name: str, requirements: list[str]) -> Path:
    """Where the venv `name` with exactly `requirements` lives (it may not exist yet)."""
    key = hashlib.sha256("\n".join([*requirements, f"python{sys.version_info[:2]}"]).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nba_precompute" / f"{name}-{key}"


def ensure_venv(name: str, requirements: list[str], override: Path | None = None) -> Path:
    """The folder of a venv holding `requirements` (pip requirement lines), built on first use.
    `override` (e.g. from an environment variable) replaces the cached location."""
    venv = override or venv_path(name, requirements)
    complete = venv / ".complete"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete.exists():
            print(f"  reusing {venv}", flush=True)
            return venv
        print(f"  creating {venv} with {' '.join(requirements)}", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements], check=True)
        complete.write_text("\n".join(requirements) + "\n")
    return venv
