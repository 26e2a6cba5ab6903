"""The side virtualenvs (Spark, BigQuery emulator) are built once per set of pins and reused
(scripts/cached_venv.py); pip is never run here: the install commands are recorded instead."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dbt_harness import REPO

sys.path.insert(0, str(REPO / "scripts"))
import cached_venv  # noqa: E402


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "nba_precompute"


@pytest.fixture
def installs(monkeypatch):
    """The commands ensure_venv runs, recorded instead of run."""
    calls = []

    def run(args, check):
        calls.append(list(args))
        if args[1:3] == ["-m", "venv"]:
            Path(args[3]).mkdir(parents=True)

    monkeypatch.setattr(cached_venv.subprocess, "run", run)
    return calls


def test_the_folder_changes_with_a_pin_and_not_with_a_comment(cache):
    spark = """# Spark of the runtime
pyspark==3.5.1   # pinned
pandas==2.2.3
"""
    same = cached_venv.requirement_lines("pyspark==3.5.1\n\n# another comment\npandas==2.2.3\n")
    path = cached_venv.venv_path("spark", cached_venv.requirement_lines(spark))
    assert path.parent == cache and path.name.startswith("spark-")
    assert cached_venv.venv_path("spark", same) == path
    assert cached_venv.venv_path("spark", ["pyspark==3.5.2", "pandas==2.2.3"]) != path
    assert cached_venv.venv_path("bq-emulator", same) != path


def test_a_complete_venv_is_reused_and_an_interrupted_one_rebuilt(cache, installs):
    requirements = ["pyspark==3.5.1"]
    venv = cached_venv.ensure_venv("spark", requirements)
    # first use: a new venv, then pip installs exactly the requirements into it
    assert installs == [[sys.executable, "-m", "venv", str(venv)],
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "pyspark==3.5.1"]]
    assert (venv / ".complete").exists()
    installs.clear()
    assert cached_venv.ensure_venv("spark", requirements) == venv
    assert installs == []  # reused as it is
    (venv / ".complete").unlink()  # an install that did not finish
    (venv / "leftover").write_text("half-installed")
    cached_venv.ensure_venv("spark", requirements)
    assert len(installs) == 2 and not (venv / "leftover").exists()


def test_an_override_names_the_folder(tmp_path, installs):
    override = tmp_path / "my-venv"
    assert cached_venv.ensure_venv("spark", ["pyspark==3.5.1"], override) == override
    assert installs[0] == [sys.executable, "-m", "venv", str(override)]

