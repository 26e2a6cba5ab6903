"""Run the real dbt project against a throw-away DuckDB file, for integration tests.

Each `DbtProject` gets its own database file, target path, log path and profiles dir, so tests
never touch the developer's `data/nba.duckdb` or `target/` and can run one after another safely.
The Phase 3 demo slice is generated once (by `make dbt-test` when make hands it over, else once per
session: conftest.py) and copied for each project. dbt runs inside the test process (run_in_process),
as a subprocess only when called from another thread.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from dbt_parse_cache import shared_parse  # noqa: E402
from project_outputs import outputs, read_manifest  # noqa: E402

DBT = str(Path(sys.executable).with_name("dbt"))

# Outputs of `make demo` / `make test`: schema names on the DuckDB dev target.
PRECOMPUTE = "dev_nba_precompute"
PREDICTIONS = "dev_nba_predictions"
STAGING = "dev_nba_staging"


def __getattr__(name: str):
    """OUTPUT_TABLES, derived on first use (a module attribute: PEP 562)."""
    if name == "OUTPUT_TABLES":
        return output_tables()
    raise AttributeError(name)


def output_tables() -> dict:
    """{table: (schema, window column, key columns, write timestamp)} of the outputs: the incremental
    outputs that ml_feature_store_v2 reads and every version of the store itself, as `dbt parse` of
    the repository on the dev target describes them (scripts/project_outputs.py), never listed here."""
    return {o.name: (o.schema, o.window_column, o.key, o.written_at) for o in output_nodes().values()}


def output_unique_id(table: str) -> str:
    """The dbt node of an output table (a version's relation maps to `model.<project>.<name>.v<n>`)."""
    return output_nodes()[table].unique_id


@functools.cache
def output_nodes() -> dict:
    """{table: Output} of the outputs (see output_tables), from one `dbt parse` per process."""
    workdir = Path(tempfile.mkdtemp(prefix="nba_outputs_"))
    (workdir / "profiles").mkdir()
    shutil.copy(REPO / "profiles.yml.example", workdir / "profiles" / "profiles.yml")
    env = {**os.environ, "DBT_PROFILES_DIR": str(workdir / "profiles"), "DBT_DUCKDB_PATH": "parse.duckdb",
           "DBT_TARGET_PATH": str(workdir / "target"), "DBT_LOG_PATH": str(workdir / "logs"), "DBT_TARGET": "dev",
           "DBT_PROJECT_DIR": str(REPO), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = run_in_process(["parse", "--quiet"], env, workdir)
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{result.stdout}")
    manifest = read_manifest(workdir / "target")
    shutil.rmtree(workdir, ignore_errors=True)
    return outputs(manifest, upstream_of="ml_feature_store_v2")  # both versions share the model's name


def generate_demo(path: Path, until: str = "2021-12-01", seed: int = 42) -> Path:
    """Write the demo slice of Phase 3 data (first six weeks of 2021-22) into `path`."""
    subprocess.run(
        [sys.executable, "-m", "nba_phase3_gen", "--db", str(path), "--seasons", "1",
         "--until", until, "--seed", str(seed)],
        cwd=REPO, check=True, capture_output=True, text=True,
    )
    return path


PARSE_CACHE_ENV = "NBA_TEST_PARSE_CACHE"  # the session's shared parse directory (conftest.py)


def run_in_process(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """`dbt <args>` through dbt's programmatic entry point (dbtRunner) in this process, with `env` as
    the environment and `cwd` as the working directory for the call; returns what the command line
    would: exit code 0 (success), 1 (a node failed) or 2 (dbt stopped with an error), and as stdout
    the messages dbt logs at info level and above, one per line.

    A dbt process spends 2-3 CPU-seconds importing dbt and its adapters before it reads a file; the
    test suite makes a few hundred invocations, so each pytest worker imports them once instead.
    Workarounds: dbt-duckdb keeps its DuckDB environment in a class attribute and reuses it while
    the credentials compare equal, and every test project has the same (relative) database path, so
    the environment is closed after each call; dbt reads its flags and profile from os.environ, so
    the environment is swapped for the call and restored after it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    lines: list[str] = []

    def collect(event) -> None:
        if event.info.level != "debug" and event.info.msg:
            lines.append(event.info.msg)

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        # stdout logging off (the callback collects the same messages); the debug log file as on the command line
        outcome = dbtRunner(callbacks=[collect]).invoke(["--log-level", "none", "--log-level-file", "debug", *args])
    finally:
        with DuckDBConnectionManager._LOCK:
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
                DuckDBConnectionManager._ENV = None
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    if outcome.exception is not None:
        lines.append(f"Encountered an error:\n{outcome.exception}")
    code = 0 if outcome.success else (2 if outcome.exception is not None else 1)
    return subprocess.CompletedProcess([DBT, *args], code, "\n".join(lines) + "\n", "")


class DbtProject:
    """The repository's dbt project bound to one private DuckDB file."""

    def __init__(self, workdir: Path, source_db: Path, project_dir: Path = REPO, artifacts: bool = False):
        """A copy of `source_db` in `workdir`. dbt writes its JSON artifacts (manifest.json,
        run_results.json: about a tenth of a short invocation's CPU) only with artifacts=True, for
        tests that read them; otherwise the previous ones are deleted before each invocation, so
        that nothing reads an earlier invocation's results by mistake."""
        self.workdir = workdir
        self.project_dir = project_dir
        self.artifacts = artifacts
        workdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "nba.duckdb"
        shutil.copy(source_db, self.db)
        profiles = workdir / "profiles"
        profiles.mkdir(exist_ok=True)
        shutil.copy(REPO / "profiles.yml.example", profiles / "profiles.yml")
        self.env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(profiles),
            "DBT_DUCKDB_PATH": str(self.db),
            "DBT_TARGET_PATH": str(workdir / "target"),
            "DBT_LOG_PATH": str(workdir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET": "dev",
        }

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `dbt <args>` on this project's database; with check=True a failure raises with dbt's output."""
        # The database as a path relative to the working directory (the project's workdir; dbt finds
        # the project by DBT_PROJECT_DIR): dbt's parse state includes the profile's values, so every
        # test project then has the same profile and can reuse the shared parse (shared_parse).
        env = {**self.env, "DBT_PROJECT_DIR": str(self.project_dir), "DBT_WRITE_JSON": str(self.artifacts).lower()}
        if not self.artifacts:
            for name in ("manifest.json", "run_results.json"):
                (Path(env["DBT_TARGET_PATH"]) / name).unlink(missing_ok=True)
        if env.get("DBT_DUCKDB_PATH") == str(self.db):  # a test may point dbt at another file
            env["DBT_DUCKDB_PATH"] = self.db.name
        # every project has its own target directory: the session's test projects share their parse
        cache = os.environ.get(PARSE_CACHE_ENV)
        with shared_parse(Path(cache) if cache else None, env, args):
            # in this process, but for a call from another thread: os.environ and the working
            # directory are the process's own, so a thread's call runs as a subprocess
            if threading.current_thread() is threading.main_thread():
                result = run_in_process(list(args), env, self.db.parent)
            else:
                result = subprocess.run([DBT, *args], cwd=self.db.parent, env=env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def build(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.dbt("build", *args, check=check)

    def query(self, sql: str, params=None) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def execute(self, sql: str, params=None) -> None:
        with duckdb.connect(str(self.db)) as con:
            con.execute(sql, params or [])

    def table(self, name: str) -> str:
        return f"{output_tables()[name][0]}.{name}"

    def snapshot(self, name: str, where: str = "true") -> dict:
        """{key: (data_hash, written_at)} of an output table (optionally filtered)."""
        schema, _, key, written_at = output_tables()[name]
        rows = self.query(f"select {', '.join(key)}, data_hash, {written_at} from {schema}.{name} where {where}")
        return {tuple(row[: len(key)]): (row[len(key)], row[len(key) + 1]) for row in rows}


# --- Helpers of the incremental-reprocessing and point-in-time integration tests ---------------

import re as _re

_ANSI = _re.compile(r"\x1b\[[0-9;]*m")
_ROWS_WRITTEN = _re.compile(r"rows written: (\w+) = (\d+)")
_RUN_WINDOW = _re.compile(r"Run window: (date|range|all|catch_up)\b(?: from (\S+))?(?: to (\S+))?")


def rows_written(result: subprocess.CompletedProcess, tables=()) -> dict:
    """{table: n} from the post-hook lines `rows written: <table> = <n>` of one dbt invocation, for
    the five output tables by default (`tables=None`: every model, ml_training_examples included)."""
    if tables == ():
        tables = tuple(output_tables())
    return {name: int(n) for name, n in _ROWS_WRITTEN.findall(result.stdout) if tables is None or name in tables}


def output_of(result: subprocess.CompletedProcess) -> str:
    """stdout + stderr of one dbt invocation, without colour codes."""
    return _ANSI.sub("", (result.stdout or "") + (result.stderr or ""))


def run_window_logged(result: subprocess.CompletedProcess):
    """(mode, start, end) of the `Run window: ...` line of one dbt invocation (start/end None when absent)."""
    match = _RUN_WINDOW.search(result.stdout)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def table_state(project: DbtProject, name: str, where: str = "true") -> dict:
    """{key: (data_hash, written_at, created_at)} of an output table (optionally filtered)."""
    schema, _, key, written_at = output_tables()[name]
    rows = project.query(
        f"select {', '.join(key)}, data_hash, {written_at}, created_at from {schema}.{name} where {where}")
    return {tuple(row[: len(key)]): tuple(row[len(key):]) for row in rows}


def all_states(project: DbtProject, where_by_table=None) -> dict:
    """{table: table_state(...)} of the five output tables; where_by_table maps a table to a filter."""
    where_by_table = where_by_table or {}
    return {name: table_state(project, name, where_by_table.get(name, "true")) for name in output_tables()}


def changed_keys(before: dict, after: dict) -> set:
    """Keys added, removed, or whose stored state differs between two table_state/snapshot results."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


def key_counts(project: DbtProject, name: str) -> tuple:
    """(rows, distinct keys) of an output table."""
    schema, _, key, _ = output_tables()[name]
    return project.query(f"select count(*), count(distinct ({', '.join(key)})) from {schema}.{name}")[0]


def build_models(project: DbtProject, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`dbt build` of models, seeds and data tests (the gates), without dbt unit tests: they check
    model logic on fixed inputs, write nothing, and about double the cost of each invocation."""
    return project.build(*args, "--exclude-resource-type", "unit_test", check=check)


def grain_checks(project: DbtProject) -> tuple[set, set]:
    """(declared, ran) names of the staging and intermediate grain checks (unique_combination_of_columns
    on models/staging and models/intermediate), from the manifest and run_results.json that the
    project's last dbt invocation wrote: declared whether enabled or not, ran = executed in that run."""
    import json

    target = project.workdir / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = list(manifest["nodes"].values()) + [n for group in manifest.get("disabled", {}).values() for n in group]
    declared = {
        node["unique_id"] for node in nodes
        if node["resource_type"] == "test"
        and (node.get("test_metadata") or {}).get("name") == "unique_combination_of_columns"
        and node["original_file_path"].startswith(("models/staging/", "models/intermediate/"))
    }
    results = json.loads((target / "run_results.json").read_text())["results"]
    ran = {result["unique_id"] for result in results if result["unique_id"] in declared}
    return declared, ran
