"""Shared fixtures: the generated demo slice and its full build (once per session), and fresh dbt
projects on private copies of them."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbt_harness import PARSE_CACHE_ENV, DbtProject, build_models, generate_demo, grain_checks


@pytest.fixture(scope="session")
def demo_source_db(tmp_path_factory):
    """The demo slice of Phase 3 data, generated once; tests copy it, never modify it."""
    return generate_demo(tmp_path_factory.mktemp("demo_source") / "demo.duckdb")


@pytest.fixture
def project(tmp_path, demo_source_db):
    """A dbt project on a private copy of the demo data (nothing built yet)."""
    return DbtProject(tmp_path, demo_source_db)


@dataclass(frozen=True)
class FullBuild:
    db: Path  # the database right after the build: copy it, never modify it
    result: subprocess.CompletedProcess  # the build's output (run window line, rows written)
    grain_checks: tuple  # (declared, ran) staging and intermediate grain checks of the build


def session_shared_dir(tmp_path_factory) -> Path:
    """The session's temporary directory that every pytest-xdist worker sees."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the directory every xdist worker's basetemp lives in
    return shared


@pytest.fixture(scope="session", autouse=True)
def make_as_a_user_runs_it():
    """Tests that run `make` run it as a user would, not as a sub-make of `make test`: without the
    parent's MAKEFLAGS (its -j jobserver and --output-sync would leak into the command under test)."""
    saved = {name: os.environ.pop(name) for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL") if name in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session", autouse=True)
def shared_dbt_parse(tmp_path_factory):
    """dbt invocations of the session's test projects share their partial parse (scripts/dbt_parse_cache.py)."""
    previous = os.environ.get(PARSE_CACHE_ENV)
    os.environ[PARSE_CACHE_ENV] = str(session_shared_dir(tmp_path_factory) / "dbt_parse_cache")
    yield
    if previous is None:
        os.environ.pop(PARSE_CACHE_ENV, None)
    else:
        os.environ[PARSE_CACHE_ENV] = previous


@pytest.fixture(scope="session", autouse=True)
def dbt_template_cache():
    """dbt's own switch for test suites (dbt-core's pytest fixtures turn it on too): the Jinja
    parse of a macro or file is kept per source text inside the process. A full parse, which every
    new --vars or project copy costs, reads the same macros of dbt, its two adapters and the project
    each time; with the cache a worker parses each of them once (about 11 -> 4 CPU-seconds a parse)."""
    from dbt_common.tests import enable_test_caching

    enable_test_caching()


def shared_build(tmp_path_factory, demo_source_db, name: str, *args: str) -> FullBuild:
    """`dbt build <args>` (no unit tests) of the demo slice, once per session under `name`; with
    pytest-xdist the workers share it (the first one to take the lock builds it, the others wait)."""
    shared = session_shared_dir(tmp_path_factory)
    workdir = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = workdir / "build_output.json"
        if not done.exists():
            workdir.mkdir(exist_ok=True)
            result = build_models(DbtProject(workdir, demo_source_db, artifacts=True), *args)
            done.write_text(json.dumps({"args": result.args, "stdout": result.stdout, "stderr": result.stderr}))
    output = json.loads(done.read_text())
    project = DbtProject.__new__(DbtProject)  # the built project as it is (no new copy of the sources)
    project.workdir, project.db = workdir, workdir / "nba.duckdb"
    result = subprocess.CompletedProcess(output["args"], 0, output["stdout"], output["stderr"])
    return FullBuild(project.db, result, grain_checks(project))


@pytest.fixture(scope="session")
def full_build(tmp_path_factory, demo_source_db) -> FullBuild:
    """The demo slice built once with every date, as a first build does (`dbt build` without window
    vars, on a database where nothing was built: every model, seed and data test; no unit tests).
    Modules that need the whole demo built start from a copy instead of building it again."""
    return shared_build(tmp_path_factory, demo_source_db, "full_build")


RANGE_START, RANGE_END = "2021-11-26", "2021-11-30"  # 11-26: first game date after Thanksgiving


@pytest.fixture(scope="session")
def range_build(tmp_path_factory, demo_source_db) -> FullBuild:
    """The demo slice built once for RANGE_START..RANGE_END (one range build, no unit tests):
    the baseline of the reliability faults and of the column_rules corruptions."""
    return shared_build(tmp_path_factory, demo_source_db, "range_build",
                        "--vars", f"{{start_date: {RANGE_START}, end_date: {RANGE_END}}}")


UNIT_TESTS = Path(__file__).parent / "unit"


def pytest_collection_modifyitems(items):
    """Unit tests (no dbt) are all part of the fast tier, `make check`; integration modules mark
    one case of each family with @pytest.mark.check themselves."""
    for item in items:
        if UNIT_TESTS in Path(item.fspath).parents:
            item.add_marker(pytest.mark.check)
