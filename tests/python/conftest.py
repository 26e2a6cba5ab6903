"""Shared fixtures: the demo slice and its full build (once per run of the suite: the ones `make test`
and `make check` hand over, else once per session), and fresh dbt projects on private copies of them."""
from __future__ import annotations

import fcntl
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from dbt_harness import PARSE_CACHE_ENV, DbtProject, build_models, generate_demo, grain_checks

# The demo `make dbt-test` built for this run of make test / make check (Makefile, CI_DEMO): source.duckdb,
# nba.duckdb, build.log, target/. The tests copy it; without it the session builds its own, the same way.
DEMO_ENV = "CI_DEMO_DIR"


def handed_demo() -> Path | None:
    """The directory of the demo make handed over (CI_DEMO_DIR), or None when pytest runs on its own."""
    value = os.environ.get(DEMO_ENV)
    return Path(value) if value else None


@pytest.fixture(scope="session")
def demo_source_db(tmp_path_factory):
    """The demo slice of Phase 3 data, generated once; tests copy it, never modify it."""
    handed = handed_demo()
    if handed:
        return handed / "source.duckdb"
    return once_per_session(tmp_path_factory, "demo_source",
                            lambda workdir: generate_demo(workdir / "source.duckdb")) / "source.duckdb"


@pytest.fixture
def project(tmp_path, demo_source_db):
    """A dbt project on a private copy of the demo data (nothing built yet)."""
    return DbtProject(tmp_path, demo_source_db)


@dataclass(frozen=True)
class FullBuild:
    db: Path  # the database right after the build: copy it, never modify it
    result: subprocess.CompletedProcess  # the build's output (run window line, rows written)
    grain_checks: tuple  # (declared, ran) staging and intermediate grain checks of the build


def finished_build(workdir: Path, args: list[str]) -> FullBuild:
    """The build `args` in `workdir`, laid out as `make dbt-test` leaves it: nba.duckdb, target/ (its
    manifest and run results) and build.log (its output, written when it passed)."""
    project = DbtProject.__new__(DbtProject)  # the built project as it is (no new copy of the sources)
    project.workdir, project.db = workdir, workdir / "nba.duckdb"
    output = re.sub(r"\x1b\[[0-9;]*m", "", (workdir / "build.log").read_text())
    result = subprocess.CompletedProcess(args, 0, output, "")
    return FullBuild(project.db, result, grain_checks(project))


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


def once_per_session(tmp_path_factory, name: str, create) -> Path:
    """The session's directory `name`, filled by create(directory) once; with pytest-xdist the workers
    share it (the first one to take the lock creates it, the others wait)."""
    shared = session_shared_dir(tmp_path_factory)
    workdir = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = workdir / ".done"
        if not done.exists():
            workdir.mkdir(exist_ok=True)
            create(workdir)
            done.touch()
    return workdir


def shared_build(tmp_path_factory, demo_source_db, name: str, *args: str) -> FullBuild:
    """`dbt build <args>` (no unit tests) of the demo slice, once per session under `name`."""
    def build(workdir: Path) -> None:
        result = build_models(DbtProject(workdir, demo_source_db, artifacts=True), *args)
        (workdir / "build.log").write_text(result.stdout)

    return finished_build(once_per_session(tmp_path_factory, name, build), ["dbt", "build", *args])


# The demo's full build as `make dbt-test` runs it (Makefile); built here, its unit tests are left out.
FULL_BUILD_ARGS = ("--full-refresh", "--vars", "{completeness_severity: warn}")


@pytest.fixture(scope="session")
def full_build(tmp_path_factory, demo_source_db) -> FullBuild:
    """The demo slice built once with every date, as `make dbt-test` builds it (a first build, no window
    vars: every model, seed and data test): the build make handed over, else the session's own (without
    the unit tests). Modules that need the whole demo built start from a copy instead of building it again."""
    handed = handed_demo()
    if handed:
        return finished_build(handed, ["dbt", "build", *FULL_BUILD_ARGS])
    return shared_build(tmp_path_factory, demo_source_db, "full_build", *FULL_BUILD_ARGS)


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
