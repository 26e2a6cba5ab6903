"""Build the project on a local BigQuery emulator (crucible-emulator), offline but for PyPI.

    .venv/bin/python scripts/bigquery_emulator.py [--work-dir DIR] [--no-parity]

DIR defaults to /tmp/bq/emulator-<checkout>, one per checkout (named by a hash of the checkout's path:
two clones checking side by side do not share it; the emulator does not accept a folder inside the
project's own target/); $BQ_EMULATOR_DIR overrides it.

Steps (any failure makes the exit status non-zero; the server is always stopped):
 1. Create the emulator's own virtualenv (crucible pins duckdb 1.5) with crucible-emulator[server],
    once per pinned version, in the user's cache (scripts/cached_venv.py; $BQ_EMULATOR_VENV
    overrides where), so a clean clone reuses it.
 2. Start `crucible serve --dialect bigquery` on a free 127.0.0.1 port, wait until it answers.
 3. The demo Phase 3 data: a copy of the one `make test` handed over ($CI_DEMO_DIR/source.duckdb,
    see the Makefile's CI_DEMO), else generated (`python -m nba_phase3_gen --seasons 1 --until
    2021-12-01`); its six tables are loaded into datasets nba_analytics / nba_raw through
    google-cloud-bigquery (CSV load jobs, column types from the source definitions: NUMERIC, INT64,
    TIMESTAMP, ...).
 4. dbt on the emulator (profile nba_precompute_emulator of tests/bigquery/profiles.yml.template, target
    `prod`, so outputs land in nba_precompute as in production), selector `bigquery_sql` (every SQL
    model with its data and unit tests; Python models and their descendants left out):
      a. dbt seed
      b. dbt build --full-refresh                 (CREATE TABLE with partitions and clusters)
      b'. the Python models through dbt-bigquery's own materialization, their Dataproc submission
          run on local Spark (scripts/local_dataproc.py, the project's one Spark stand-in: the
          tables the script reads come from the emulator, what it writes goes back into it):
          `dbt build --select player_composite_factors+ --full-refresh` (every Python model and
          version, their data tests in BigQuery SQL, everything downstream) on every date of b,
          early-season placeholder days included; then the written and stored column types against
          hand-written BigQuery types, and the placeholders of the last early-season day (no
          features) and the feature arrays of the day after
      c. dbt build --vars '{date: 2021-11-20}'    (the hash-skipping MERGE; unchanged inputs
                                                   must write 0 rows)
      c'. the same Python selection incrementally on that date: each script writes dbt's
          `__dbt_tmp` table, the MERGE changes 0 rows (the first build's rows again); what each
          Spark submission recorded is checked (the table dbt-bigquery writes, the first build's
          write options, the pandas -> pandas-on-Spark conversion, a Spark DataFrame returned)
      d. dbt build                                 (catch-up mode: reads the output tables)
      e. dbt source freshness                      (fails on the 2021 data with the default
                                                   thresholds; passes as of 2021-11-20's nightly
                                                   run; the threshold vars are tested on DuckDB)
 5. Engine parity (skip with --no-parity): the same data built on DuckDB (a copy of the build `make
    test` handed over, $CI_DEMO_DIR/nba.duckdb, else the same selection and the Python models built
    here); every SQL output row must exist on both engines with the same data_hash (the hash covers
    every business column, so equal hashes mean equal values), and every row of every Python
    model's table must equal DuckDB's rows of the same dates in every column but the write moments.
 6. Regression tests (pytest tests/bigquery): a plain MERGE with duplicate source keys fails on the
    emulator with "UPDATE/MERGE must match at most one source row", and the project's models fed
    a duplicate player_game_summary row still build with unique keys.
 7. Differential scenario: one box score of 2021-11-19 re-delivered corrected (append load); `dbt run`
    of 2021-11-20 must write rows and equal a full refresh of that date on every column but the
    write timestamps.

dbt runs with a private DBT_PROFILES_DIR (a copy of tests/bigquery/profiles.yml.template),
DBT_TARGET_PATH and DBT_LOG_PATH under --work-dir. The last line reads
`bigquery_emulator: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cached_venv import ensure_venv
from dbt_parse_cache import shared_parse
from local_dataproc import bq_type, export_table
from project_outputs import Output, outputs, read_manifest, reads_python_model

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROFILES_TEMPLATE = PROJECT_DIR / "tests" / "bigquery" / "profiles.yml.template"
CRUCIBLE_VERSION = os.environ.get("CRUCIBLE_VERSION", "0.1.0a2")
EMULATOR_REQUIREMENT = f"crucible-emulator[server]=={CRUCIBLE_VERSION}"
BQ_PROJECT = "nba-props-platform"
DEMO_ARGS = ["--seasons", "1", "--until", "2021-12-01"]
# The demo `make test` built for this run (Makefile, CI_DEMO): source.duckdb and its full build nba.duckdb.
HANDED_DEMO = Path(os.environ["CI_DEMO_DIR"]) if os.environ.get("CI_DEMO_DIR") else None
INCREMENTAL_DATE = "2021-11-20"
SELECTOR = "bigquery_sql"
# {table: key columns} of the outputs the SQL build writes (SQL incremental outputs that read no
# Python model), filled from the manifest of the seed step (scripts/project_outputs.py).
OUTPUT_KEYS: dict[str, list[str]] = {}
# The outputs the Python models write (every version its own relation), from the same manifest.
PYTHON_OUTPUTS: dict[str, Output] = {}
# BigQuery load types for the source definitions' data_type values.
LOAD_TYPES = {"string": "STRING", "date": "DATE", "int64": "INT64", "boolean": "BOOL", "numeric": "NUMERIC",
              "timestamp": "TIMESTAMP", "float64": "FLOAT64"}
DUCKDB_LOAD_TYPES = {"VARCHAR": "STRING", "DATE": "DATE", "BIGINT": "INT64", "INTEGER": "INT64", "BOOLEAN": "BOOL",
                     "DOUBLE": "FLOAT64", "TIMESTAMP": "TIMESTAMP", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP"}


class Failure(Exception):
    pass


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.started = time.time()

    def step(self, title: str) -> None:
        print(f"\n== {title}  [{time.time() - self.started:.0f} s]", flush=True)

    def verdict(self, ok: bool, label: str, details=()) -> bool:
        self.passed += ok
        self.failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {label}", flush=True)
        details = list(details)
        for line in details[:15]:
            print(f"         {line}")
        if len(details) > 15:
            print(f"         ... and {len(details) - 15} more")
        return ok


# --------------------------------------------------------------------------------------------
# Emulator
# --------------------------------------------------------------------------------------------


def ensure_emulator_venv() -> Path:
    """The crucible executable of the emulator's venv (scripts/cached_venv.py; $BQ_EMULATOR_VENV overrides where)."""
    override = Path(os.environ["BQ_EMULATOR_VENV"]) if os.environ.get("BQ_EMULATOR_VENV") else None
    return ensure_venv("bq-emulator", [EMULATOR_REQUIREMENT], override) / "bin" / "crucible"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# crucible 0.1.0a2 as released, with two adjustments made by this launcher (nothing else changes):
# 1. crucible refuses a table description in tables.patch (it stores none). dbt-bigquery's
#    persist_docs sends one after CREATE ... OPTIONS(description=...) already set it (unless the
#    behaviour flag bigquery_noop_alter_relation_comment is on): that one field is dropped.
# 2. A CSV load job inserts the rows it parsed with DuckDB executemany, about 5 ms a row (two
#    minutes for the demo data). The launcher inserts the same parsed rows in one statement
#    (DuckDB from_json over one JSON parameter); crucible still parses and validates the CSV.
#    The parity step of this script compares every output row with a DuckDB build of the data.
# It also counts the query jobs it serves (jobs.insert and jobs.query, the calls BigQuery bills as
# jobs): one line per job in the file named by CRUCIBLE_JOB_LOG, so a step's job count is visible.
LAUNCHER = r"""
import contextlib, datetime, decimal, json, math, re, sys, threading
from crucible.engine import engine as engine_module
from crucible.server.bigquery import app as bigquery_app, jobs as bigquery_jobs

check_fields = bigquery_app._check_fields
def _check_fields(body, allowed, call):
    if call == "tables.patch":
        body.pop("description", None)
    return check_fields(body, allowed, call)
bigquery_app._check_fields = _check_fields

loading = threading.local()
original_load = bigquery_jobs.Runner._load
def _load(self, job, config, data):
    loading.active = True
    try:
        return original_load(self, job, config, data)
    finally:
        loading.active = False
bigquery_jobs.Runner._load = _load

def _text(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    return value

class FastInsert:
    def __init__(self, cursor):
        self._cursor = cursor
    def __getattr__(self, name):
        return getattr(self._cursor, name)
    def executemany(self, sql, rows):
        match = re.fullmatch(r"INSERT INTO (\S+) VALUES \([?, ]+\)", sql.strip())
        plain = all(not isinstance(v, (float, list, dict, bytes)) or (isinstance(v, float) and math.isfinite(v))
                    for row in rows for v in row)
        if not match or not rows or not plain:
            return self._cursor.executemany(sql, rows)
        table = match.group(1)
        columns = [(row[0], row[1]) for row in self._cursor.execute(f"DESCRIBE {table}").fetchall()]
        payload = json.dumps([{name: _text(v) for (name, _), v in zip(columns, row, strict=True)} for row in rows])
        structure = json.dumps([{name: kind for name, kind in columns}])
        # crucible disables DuckDB's file access, so the rows travel as one JSON parameter.
        self._cursor.execute(f"INSERT INTO {table} SELECT r.* FROM (SELECT unnest(from_json(?, ?)) AS r)",
                             [payload, structure])

original_cursor = engine_module.Engine.cursor
@contextlib.contextmanager
def cursor(self, session):
    with original_cursor(self, session) as real:
        yield FastInsert(real) if getattr(loading, "active", False) else real
engine_module.Engine.cursor = cursor

import os
job_log = os.environ.get("CRUCIBLE_JOB_LOG")
def counted(original):
    async def handler(self, request):
        with open(job_log, "a") as log:
            log.write(request.url.path + "\n")
        return await original(self, request)
    return handler
if job_log:
    for name in ("jobs_insert", "jobs_query"):
        setattr(bigquery_app.BigQueryServer, name, counted(getattr(bigquery_app.BigQueryServer, name)))

from crucible.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Emulator:
    def __init__(self, crucible: Path, work_dir: Path):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / "crucible.log"
        self.log = open(self.log_path, "w")
        self.job_log = work_dir / "jobs.log"
        self.job_log.write_text("")
        # A session of its own: stop() ends the server and only what it started.
        self.process = subprocess.Popen(
            [str(crucible.parent / "python"), "-c", LAUNCHER,
             "serve", "--dialect", "bigquery", "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "CRUCIBLE_JOB_LOG": str(self.job_log)},
        )

    def jobs(self) -> int:
        """The number of query jobs served so far."""
        return len(self.job_log.read_text().splitlines())

    def wait_ready(self, timeout: float = 90.0) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"crucible exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_crucible/health", timeout=2) as response:
                    return json.loads(response.read())
            except OSError:
                time.sleep(0.3)
        raise Failure(f"crucible did not answer on {self.endpoint} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        self.log.close()
        print(f"  emulator on port {self.port} stopped (exit {self.process.returncode}); log: {self.log_path}")


def bigquery_client(endpoint: str):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=BQ_PROJECT, credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": endpoint})


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def source_types() -> dict[tuple[str, str], dict[str, str]]:
    """{(dataset, table): {column: BigQuery type}} from the project's source definitions."""
    import yaml

    types = {}
    for path in (PROJECT_DIR / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text()) or {}
        for source in document.get("sources") or []:
            for table in source.get("tables") or []:
                columns = {c["name"]: LOAD_TYPES.get(str(c.get("data_type", "")).lower())
                           for c in table.get("columns") or []}
                types[(source["name"], table["name"])] = {k: v for k, v in columns.items() if v}
    return types


def csv_value(value, bq_type: str) -> str:
    import datetime as dt

    if value is None:
        return ""
    if bq_type == "NUMERIC":
        text = f"{float(value):.9f}".rstrip("0").rstrip(".")
        return text or "0"
    if bq_type == "FLOAT64":
        import numpy as np

        return np.format_float_positional(float(value), unique=True, trim="-")
    if bq_type == "BOOL":
        return "true" if value else "false"
    if bq_type == "TIMESTAMP" and isinstance(value, dt.datetime):
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    text = str(value)
    if bq_type == "STRING":
        return '"' + text.replace('"', '""') + '"'
    return text


def load_demo_data(client, duckdb_path: Path, report: Report) -> dict[str, int]:
    """CSV load jobs, one per table, run concurrently (crucible inserts loaded rows one by one)."""
    import duckdb
    from concurrent.futures import ThreadPoolExecutor
    from google.cloud import bigquery

    declared = source_types()
    connection = duckdb.connect(str(duckdb_path), read_only=True)
    tables = connection.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('nba_analytics', 'nba_raw') order by 1, 2").fetchall()
    problems, payloads = [], {}
    for dataset in sorted({schema for schema, _ in tables}):
        client.create_dataset(bigquery.Dataset(f"{BQ_PROJECT}.{dataset}"), exists_ok=True)
    for dataset, table in tables:
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position", [dataset, table]).fetchall()
        documented = declared.get((dataset, table), {})
        undocumented = [name for name, _ in columns if name not in documented]
        if undocumented:
            problems.append(f"{dataset}.{table}: columns without a source data_type: {', '.join(undocumented)}")
        schema = [bigquery.SchemaField(name, documented.get(name) or DUCKDB_LOAD_TYPES.get(kind, "STRING"))
                  for name, kind in columns]
        rows = connection.execute(f'select * from "{dataset}"."{table}"').fetchall()
        buffer = io.StringIO()
        buffer.write(",".join(name for name, _ in columns) + "\n")
        for row in rows:
            buffer.write(",".join(csv_value(v, f.field_type) for v, f in zip(row, schema)) + "\n")
        payloads[(dataset, table)] = (schema, buffer.getvalue().encode(), len(rows))
    connection.close()

    def load(key):
        dataset, table = key
        schema, data, expected = payloads[key]
        job = client.load_table_from_file(
            io.BytesIO(data), f"{BQ_PROJECT}.{dataset}.{table}",
            job_config=bigquery.LoadJobConfig(source_format="CSV", skip_leading_rows=1, schema=schema,
                                              write_disposition="WRITE_TRUNCATE"))
        job.result(timeout=900)
        return list(client.query(f"select count(*) as n from `{BQ_PROJECT}`.`{dataset}`.`{table}`").result())[0].n

    # Largest first, so the two big tables load side by side.
    order = sorted(payloads, key=lambda key: -payloads[key][2])
    with ThreadPoolExecutor(max_workers=3) as pool:
        loaded = dict(zip(order, pool.map(load, order)))
    counts = {}
    for (dataset, table), count in sorted(loaded.items()):
        counts[f"{dataset}.{table}"] = count
        if count != payloads[(dataset, table)][2]:
            problems.append(f"{dataset}.{table}: loaded {count} rows of {payloads[(dataset, table)][2]}")
    report.verdict(not problems and set(tables) == set(declared),
                   f"loaded {len(tables)} tables: " + ", ".join(f"{k} {v}" for k, v in counts.items()), problems)
    return counts


# --------------------------------------------------------------------------------------------
# dbt
# --------------------------------------------------------------------------------------------


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def dbt_env(work_dir: Path, endpoint: str, name: str) -> dict:
    env = dict(os.environ)
    for key in ("DBT_TARGET", "DBT_PROFILE"):
        env.pop(key, None)
    env.update(
        DBT_PROFILES_DIR=str(work_dir / "profiles"),
        DBT_TARGET_PATH=str(work_dir / f"target-{name}"),
        DBT_LOG_PATH=str(work_dir / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        BQ_PROJECT=BQ_PROJECT,
        BQ_EMULATOR_ENDPOINT=endpoint,
        BQ_PARITY_DUCKDB_PATH=str(work_dir / "parity.duckdb"),
        LOCAL_DATAPROC_RECORD=str(work_dir / "local_dataproc.jsonl"),
    )
    return env


def run_dbt(args: list[str], env: dict, label: str, log_name: str, work_dir: Path) -> tuple[int, str]:
    started = time.time()
    with shared_parse(work_dir / "parse", env, args):  # each step has its own target directory
        result = subprocess.run([dbt_executable(), *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    (work_dir / f"{log_name}.out").write_text(output)
    print(f"  dbt {' '.join(args)}  ->  exit {result.returncode} in {time.time() - started:.0f} s"
          f" (output: {work_dir / (log_name + '.out')})", flush=True)
    return result.returncode, output


def summarize_run(target_dir: Path) -> tuple[dict, list[str], list[str]]:
    """(counts by kind and status, models that ran, non-passing nodes) from run_results.json."""
    results = json.loads((target_dir / "run_results.json").read_text())["results"]
    counts: dict[str, dict[str, int]] = {}
    models, bad = [], []
    for result in results:
        uid, status = result["unique_id"], result["status"]
        kind = uid.split(".")[0]
        counts.setdefault(kind, {}).setdefault(status, 0)
        counts[kind][status] += 1
        if kind == "model":
            models.append(f"{'.'.join(uid.split('.')[2:])} ({status}, {result['execution_time']:.1f} s)")  # name[.v<n>]
        if status not in ("success", "pass"):
            message = (result.get("message") or "").replace("\n", " ")[:240]
            bad.append(f"{uid}: {status} {message}")
    return counts, models, bad


def rows_written(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"rows written: (\w+) = (\d+)", output)}


def dbt_step(report: Report, work_dir: Path, env_for, name: str, args: list[str], expect_models: bool = True):
    env = env_for(name)
    code, output = run_dbt(args, env, name, name, work_dir)
    target_dir = Path(env["DBT_TARGET_PATH"])
    if not (target_dir / "run_results.json").exists():
        tail = output.strip().splitlines()[-20:]
        report.verdict(False, f"dbt {args[0]} ({name})", tail)
        return None, output
    counts, models, bad = summarize_run(target_dir)
    summary = "; ".join(f"{kind}: " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) for kind, c in sorted(counts.items()))
    ok = bool(code == 0 and not bad and (not expect_models or counts.get("model")))
    report.verdict(ok, f"dbt {args[0]} ({name}): {summary}", bad or ([] if code == 0 else output.strip().splitlines()[-15:]))
    if models:
        print(f"         models that ran ({len(models)}): " + ", ".join(models))
    return counts, output


# --------------------------------------------------------------------------------------------
# Python models: dbt-bigquery's materialization with the Dataproc submission run on local Spark
# --------------------------------------------------------------------------------------------

def python_models(target_dir: Path) -> dict[str, str]:
    """{name[.v<n>] as run_results names it: relation} of every Python model (each version its own)."""
    nodes = read_manifest(target_dir)["nodes"]
    return {".".join(uid.split(".")[2:]): node.get("alias") or node["name"] for uid, node in nodes.items()
            if node["resource_type"] == "model" and node.get("language") == "python"}


# Not run on the emulator, with the reason (each one probed on crucible 0.1.0a2; bigquery_check parses them):
EMULATOR_QUIRKS = {
    # crucible types a column computed from `unnest(...) with offset` as STRING in CREATE TABLE AS
    # (the same query returns INT64), so the range rule on feature_index fails with a type error.
    "feature_health_column_rules": "CREATE TABLE AS stores a WITH OFFSET column as STRING",
}
# Not run incrementally on the emulator: its write guard range-checks that same column.
INCREMENTAL_QUIRKS = {"feature_health": "its incremental write guard compares feature_index, stored as STRING (above)"}
# Columns whose value is the moment or the duration of the write, never equal between two runs.
WRITE_TIME_COLUMNS = {"created_at", "processed_at", "updated_at", "feature_generation_time_ms"}
# Left out of the Python models' parity too: the moment each engine wrote an upstream row
# (`*_last_updated`: the upstream's processed_at), the hashes that cover those moments, and the
# upstream rows' hashes (`source_*_hash`: each upstream table has its own parity check).
UPSTREAM_WRITE_TIME_HASHES = {"input_fingerprint", "data_hash"}
# Hand-written: the BigQuery types the legacy tables hold, per Python relation (a NUMERIC's scale is
# checked on the written DataFrame: the connector creates plain NUMERIC columns, the values keep it).
EXPECTED_TYPES = {
    "player_composite_factors": {
        "game_date": "DATE", "analysis_date": "DATE", "fatigue_score": "INT64",
        "shot_zone_mismatch_score": "NUMERIC(4,1)", "pace_score": "NUMERIC(3,1)",
        "total_composite_adjustment": "NUMERIC(5,2)", "data_quality_issues": "ARRAY<STRING>",
        "source_player_shot_last_updated": "TIMESTAMP", "has_warnings": "BOOL", "completeness_percentage": "FLOAT64",
    },
    "ml_feature_store_v2": {
        "game_date": "DATE", "features": "ARRAY<FLOAT64>", "feature_names": "ARRAY<STRING>",
        "feature_sources": "ARRAY<STRING>", "feature_quality_score": "NUMERIC(5,2)",
        "source_composite_completeness_pct": "NUMERIC(5,2)", "source_composite_last_updated": "TIMESTAMP",
        "default_feature_count": "INT64", "is_training_ready": "BOOL",
    },
}
EXPECTED_TYPES["ml_feature_store_v2_v2"] = EXPECTED_TYPES["ml_feature_store_v2"]  # version 1's columns
# Hand-written: the length of the `features` array of a computed row, per feature store version.
FEATURE_COUNTS = {"ml_feature_store_v2": 25, "ml_feature_store_v2_v2": 37}
# The demo's last early-season day (season start 2021-10-19 + 13 days: placeholder rows) and the
# first computed day after it.
LAST_EARLY_DAY, FIRST_COMPUTED_DAY = "2021-11-01", "2021-11-02"


def run_local_dataproc(args: list[str], env: dict, log_name: str, work_dir: Path) -> tuple[int, str]:
    """`dbt <args>` through scripts/local_dataproc.py (Dataproc submission -> local Spark)."""
    started = time.time()
    with shared_parse(work_dir / "parse", env, args):
        result = subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "local_dataproc.py"), *args],
                                cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    (work_dir / f"{log_name}.out").write_text(output)
    print(f"  dbt {' '.join(args)}  ->  exit {result.returncode} in {time.time() - started:.0f} s"
          f" (output: {work_dir / (log_name + '.out')})", flush=True)
    for line in output.splitlines():
        if "local Dataproc:" in line:
            print(f"         {line.split('local Dataproc:')[1].strip()}")
    return result.returncode, output


def submissions(env: dict) -> list[dict]:
    """What scripts/local_dataproc.py recorded of each Spark submission so far (one JSON line each)."""
    path = Path(env["LOCAL_DATAPROC_RECORD"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def python_build(report: Report, work_dir: Path, env_for, name: str, args: list[str], quirks: dict):
    """`dbt build --select player_composite_factors+` through local_dataproc: its verdict, and
    ({name[.v<n>]: relation} of the Python models, rows written, the Spark submissions of this step)."""
    env = env_for(name)
    before = len(submissions(env))
    for node, reason in quirks.items():
        print(f"         not run on the emulator: {node} ({reason})")
    code, output = run_local_dataproc(["build", *args, "--select", "player_composite_factors+", "--exclude",
                                       *quirks, "--exclude-resource-type", "unit_test"], env, name, work_dir)
    target_dir = Path(env["DBT_TARGET_PATH"])
    if not (target_dir / "run_results.json").exists():
        report.verdict(False, f"dbt build ({name}) of the Python models and their descendants", output.strip().splitlines()[-20:])
        return {}, {}, []
    counts, models, bad = summarize_run(target_dir)
    # exposures are no-ops in a build; a warn-severity test warns on DuckDB's build of the same dates too
    warned = [line for line in bad if ": warn " in line]
    bad = [line for line in bad if not line.startswith("exposure.") and line not in warned]
    for line in warned:
        print(f"         warning (severity warn): {line}")
    summary = "; ".join(f"{kind}: " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())) for kind, c in sorted(counts.items()))
    python = python_models(target_dir)
    ran = {line.split(" (")[0] for line in models if "(success" in line}
    report.verdict(bool(code == 0 and not bad and set(python) <= ran and counts.get("test")),
                   f"dbt build ({name}): {summary}; Python models (every version) on Spark: {', '.join(sorted(python))}",
                   bad or [f"did not run: {n}" for n in sorted(set(python) - ran)] or output.strip().splitlines()[-15:])
    print(f"         models that ran ({len(models)}): " + ", ".join(models))
    return python, rows_written(output), submissions(env)[before:]


def submission_problems(python: dict, first: list[dict], incremental: list[dict]) -> list[str]:
    """Where each Python relation was written by its first build and its incremental run, and how the
    script produced the DataFrame (dbt-bigquery's pandas -> pandas-on-Spark conversion)."""
    problems = []
    for relation in sorted(set(python.values())):
        table = f"{BQ_PROJECT}.{PYTHON_OUTPUTS[relation].schema}.{relation}"
        builds = [s for s in first if s["table"] == table]
        runs = [s for s in incremental if s["table"].startswith(table + "__dbt_tmp")]
        if len(builds) != 1 or len(runs) != 1:
            problems.append(f"{relation}: {len(builds)} first builds into {table}, {len(runs)} incremental writes"
                            f" into {table}__dbt_tmp*")
            continue
        options = builds[0]["options"]
        if (options.get("mode"), options.get("writeDisposition"), options.get("partitionField"), options.get("partitionType")) != (
                "overwrite", "WRITE_TRUNCATE", "game_date", "DAY"):
            problems.append(f"{relation}: first build writes with {options}")
        for step in (builds[0], runs[0]):
            script = Path(step["script"]).read_text()
            if ("df = pyspark.pandas.frame.DataFrame(df)" not in script
                    or 'dbt = dbtObj(spark.read.format("bigquery").load)' not in script):
                problems.append(f"{relation}: the submitted script lacks dbt-bigquery's conversion or loader ({step['script']})")
            if step["returned"] != "pyspark.sql.dataframe.DataFrame" or step["pyspark_pandas"] is not True:
                problems.append(f"{relation}: the script produced {step['returned']}, pandas-on-Spark imported: {step['pyspark_pandas']}")
        if "self.is_incremental = True" not in Path(runs[0]["script"]).read_text():
            problems.append(f"{relation}: the incremental script does not see dbt.is_incremental")
    return problems


def type_problems(expected: dict[str, str], written: dict[str, str], stored: dict[str, str]) -> list[str]:
    """The declared BigQuery type of each column against the written DataFrame's (`written`, in
    BigQuery types: NUMERIC(p,s)) and the emulator table's (`stored`: plain NUMERIC). A NUMERIC's
    scale is what is checked (its precision is the connector's own)."""
    problems = []
    for column, kind in expected.items():
        if column not in written or column not in stored:
            problems.append(f"{column} missing (written: {column in written}, stored: {column in stored})")
        elif kind.startswith("NUMERIC("):
            if not written[column].startswith("NUMERIC(") or written[column].split(",")[1] != kind.split(",")[1] or stored[column] != "NUMERIC":
                problems.append(f"{column}: written {written[column]}, stored {stored[column]}, declared {kind}")
        elif written[column] != kind or stored[column] != kind:
            problems.append(f"{column}: written {written[column]}, stored {stored[column]}, declared {kind}")
    return problems


def placeholder_problems(client, relation: str, schema: str, length: int) -> list[str]:
    """The last early-season day holds placeholder rows without features; the first day after it,
    computed rows whose `features` array holds `length` values."""
    rows = {str(r.game_date): r for r in client.query(
        "select game_date, logical_and(early_season_flag) as early, count(*) as n,"
        " sum(case when coalesce(array_length(features), 0) > 0 then 1 else 0 end) as with_features,"
        " min(array_length(features)) as shortest, max(array_length(features)) as longest"
        f" from `{BQ_PROJECT}`.`{schema}`.`{relation}` where game_date in (date '{LAST_EARLY_DAY}', date '{FIRST_COMPUTED_DAY}')"
        " group by game_date").result()}
    early, computed = rows.get(LAST_EARLY_DAY), rows.get(FIRST_COMPUTED_DAY)
    problems = []
    if not early or not early.early or early.n < 200 or early.with_features:
        problems.append(f"{relation} {LAST_EARLY_DAY}: {dict(early) if early else 'no rows'} (expected > 200 placeholders without features)")
    if not computed or computed.early or computed.n < 80 or computed.with_features != computed.n or (computed.shortest, computed.longest) != (length, length):
        problems.append(f"{relation} {FIRST_COMPUTED_DAY}: {dict(computed) if computed else 'no rows'} (expected > 80 rows of {length} features)")
    return problems


def python_first_build(report: Report, client, work_dir: Path, env_for, emulator_profile: list[str]) -> tuple[dict, list[dict]]:
    """The Python models' first build on every date the full refresh built (the early-season
    placeholder days and the computed days), their data tests and everything downstream; the Spark
    output is loaded into the emulator by dbt-bigquery's own materialization."""
    report.step("Python models on local Spark (scripts/local_dataproc.py), first build (--full-refresh):"
                " their data tests and everything downstream")
    python, _, first = python_build(report, work_dir, env_for, "python-first-build",
                                    [*emulator_profile, "--full-refresh", "--vars", "{completeness_severity: warn}"],
                                    EMULATOR_QUIRKS)
    if not python:
        return python, first
    target_dir = Path(env_for("python-first-build")["DBT_TARGET_PATH"])
    tests = json.loads((target_dir / "run_results.json").read_text())["results"]
    python_tests = sorted(r["unique_id"].split(".")[2] for r in tests if r["unique_id"].startswith("test.")
                          and any(m.split(".")[0] in r["unique_id"] for m in python) and r["status"] == "pass")
    report.verdict(len(python_tests) >= 4, f"the Python models' data tests pass in BigQuery SQL: {', '.join(python_tests)}")

    problems = []
    for relation in sorted(set(python.values())):
        written = {name: bq for name, _, bq, _ in next((s["schema"] for s in first if s["table"].endswith(f".{relation}")), [])}
        try:
            stored = {field.name: bq_type(field) for field in
                      client.get_table(f"{BQ_PROJECT}.{PYTHON_OUTPUTS[relation].schema}.{relation}").schema}
        except Exception as error:  # noqa: BLE001 - a table the build did not write is a failure, not a crash
            stored = {}
            problems.append(f"{relation}: {str(error).splitlines()[0][:200]}")
        problems += [f"{relation}: {p}" for p in type_problems(EXPECTED_TYPES.get(relation, {"(no expectations)": "?"}), written, stored)]
    report.verdict(not problems, "the written and stored columns have the declared BigQuery types"
                   f" ({', '.join(f'{r} {len(EXPECTED_TYPES.get(r, {}))}' for r in sorted(set(python.values())))} columns)", problems)
    stores = [relation for relation in sorted(set(python.values())) if "features" in EXPECTED_TYPES.get(relation, {})]
    problems = []
    for relation in stores:
        try:
            problems += placeholder_problems(client, relation, PYTHON_OUTPUTS[relation].schema, FEATURE_COUNTS.get(relation, -1))
        except Exception as error:  # noqa: BLE001 - as above
            problems.append(f"{relation}: {str(error).splitlines()[0][:200]}")
    report.verdict(bool(stores) and not problems,
                   f"placeholders of {LAST_EARLY_DAY} stored without features, rows of {FIRST_COMPUTED_DAY} with"
                   f" {', '.join(f'{FEATURE_COUNTS.get(r)} ({r})' for r in stores)} features", problems)
    return python, first


def python_incremental(report: Report, work_dir: Path, env_for, emulator_profile: list[str], python: dict, first: list[dict]) -> None:
    """The command under test for the Python models, incrementally on a date the first build wrote:
    each script writes dbt's `__dbt_tmp` table, dbt MERGEs it, and the MERGE changes no row."""
    vars_ = f"{{date: {INCREMENTAL_DATE}}}"
    report.step(f"The Python models incrementally: dbt build --select player_composite_factors+ --vars '{vars_}'")
    # the run window of the date build is still in place (the SQL __inputs tables hold that date)
    ran, written, incremental = python_build(report, work_dir, env_for, "python-incremental",
                                             [*emulator_profile, "--vars", vars_], {**EMULATOR_QUIRKS, **INCREMENTAL_QUIRKS})
    relations = sorted(set(python.values()))
    report.verdict(bool(ran) and len(relations) > 2 and all(written.get(r) == 0 for r in relations),
                   f"every Python relation ({', '.join(relations)}) re-run on Spark and MERGEd: the rows of the first"
                   f" build again, 0 rows changed ({written})")
    problems = submission_problems(python, first, incremental)
    report.verdict(not problems, f"{len(first) + len(incremental)} Spark submissions: first builds into the target"
                   " tables (overwrite, WRITE_TRUNCATE, partition game_date DAY), incremental runs into __dbt_tmp, each"
                   " through dbt-bigquery's pandas -> pandas-on-Spark conversion (a Spark DataFrame)", problems)


# --------------------------------------------------------------------------------------------
# Parity
# --------------------------------------------------------------------------------------------


def compare_rows(connection, left: str, right: str, keys: list[str], skip=WRITE_TIME_COLUMNS) -> dict:
    """Row by row, column by column comparison of two DuckDB relations on their shared columns
    (`skip` left out), joined on `keys`: rows compared and equal, rows only on one side, the count
    of differing rows per column and a few samples. An empty array equals a NULL one (BigQuery
    stores a NULL ARRAY as an empty one), and a zero written as -0.0 in a text column (JSON) equals
    0.0: the engines differ in the sign of a rounded zero (DuckDB's SQL keeps -0.0), not in its value."""
    def columns(relation):
        return {row[0]: row[1] for row in connection.execute(f"describe select * from {relation}").fetchall()}

    right_columns = columns(right)
    compared = {c: kind for c, kind in columns(left).items() if c in right_columns and c not in skip and c not in keys}

    def value(side, column):
        if compared[column].endswith("[]"):
            return f'(case when len({side}."{column}") = 0 then null else {side}."{column}" end)'
        if compared[column] == "VARCHAR":
            return f"""regexp_replace({side}."{column}", '-0\\.0([^0-9]|$)', '0.0\\1', 'g')"""
        return f'{side}."{column}"'

    distinct = {c: f"{value('l', c)} is distinct from {value('r', c)}" for c in compared}
    on = " and ".join(f'l."{k}" = r."{k}"' for k in keys)
    both = " and ".join(f'l."{k}" is not null and r."{k}" is not null' for k in keys)
    equal = " and ".join(f"not ({d})" for d in distinct.values()) or "true"
    differs = "".join(f", count(*) filter (where {both} and {d})" for d in distinct.values())
    row = connection.execute(
        f"select count(*) filter (where {both}), count(*) filter (where l.\"{keys[0]}\" is null),"
        f" count(*) filter (where r.\"{keys[0]}\" is null), count(*) filter (where {both} and {equal}){differs}"
        f" from {left} l full join {right} r on {on}").fetchone()
    differing = {c: n for c, n in zip(compared, row[4:]) if n}
    sample = [f"{c}: {r}" for c in list(differing)[:3] for r in connection.execute(
        f'select {", ".join(f"l.{k}" for k in keys)}, l."{c}", r."{c}" from {left} l join {right} r on {on}'
        f" where {distinct[c]} limit 2").fetchall()]
    return {"rows_compared": row[0], "only_right": row[1], "only_left": row[2], "rows_equal": row[3],
            "columns_compared": len(compared), "differing_columns": differing, "sample": sample}


def python_parity(report: Report, client, connection, work_dir: Path) -> None:
    """Every row of every Python relation on the emulator against the DuckDB twin's rows of the same
    dates, on every column but the write-time ones (keyed by the model's unique key)."""
    (work_dir / "parity-python").mkdir(exist_ok=True)
    connection.execute("set time zone 'UTC'")
    for relation, output in PYTHON_OUTPUTS.items():
        path = work_dir / "parity-python" / f"{relation}.parquet"
        exported = export_table(client, f"{BQ_PROJECT}.{output.schema}.{relation}", path)
        if exported is None:
            report.verdict(False, f"parity {relation}: no such table on the emulator")
            continue
        twin = f"dev_{output.schema}.{relation}"
        emulator = f"read_parquet('{path}')"
        dates = f"(select distinct {output.window_column} from {emulator})"
        skip = WRITE_TIME_COLUMNS | UPSTREAM_WRITE_TIME_HASHES | {
            name for name, _ in exported["columns"] if name.endswith("_last_updated")
            or (name.startswith("source_") and name.endswith("_hash"))}
        result = compare_rows(connection, emulator, f"(select * from {twin} where {output.window_column} in {dates})",
                              list(output.key), skip)
        total = connection.execute(f"select count(*) from {emulator}").fetchone()[0]
        ok = (result["rows_equal"] == result["rows_compared"] == total > 0
              and not result["only_left"] and not result["only_right"])
        report.verdict(ok, f"parity {relation}: {total} emulator rows, {result['rows_compared']} matched in DuckDB,"
                       f" {result['only_right']} only-DuckDB, {result['only_left']} only-emulator,"
                       f" {result['rows_compared'] - result['rows_equal']} rows differing on {result['columns_compared']}"
                       f" columns compared ({len(skip & {name for name, _ in exported['columns']})} write-time columns left out)",
                       [f"differing columns: {result['differing_columns']}", *result["sample"]] if not ok else [])


def parity(report: Report, client, work_dir: Path, demo_db: Path, env_for) -> None:
    import duckdb

    parity_db = work_dir / "parity.duckdb"
    if HANDED_DEMO:  # make dbt-test's build of the same data (every model: the SQL outputs among them)
        shutil.copy(HANDED_DEMO / "nba.duckdb", parity_db)
        print(f"  DuckDB twin: a copy of {HANDED_DEMO / 'nba.duckdb'} (make dbt-test's build)", flush=True)
    else:
        shutil.copy(demo_db, parity_db)
        env = env_for("parity")
        profile = ["--profile", "nba_precompute_duckdb", "--target", "dev"]
        for args in (["seed", *profile], ["build", *profile, "--selector", SELECTOR, "--full-refresh",
                                          "--vars", "{completeness_severity: warn}"],
                     ["run", *profile, "--select", "player_composite_factors+", "--full-refresh",
                      "--vars", "{completeness_severity: warn}"]):
            code, output = run_dbt(args, env, "parity", f"parity-{args[0]}", work_dir)
            if code != 0:
                report.verdict(False, f"DuckDB twin: dbt {args[0]}", output.strip().splitlines()[-15:])
                return
    connection = duckdb.connect(str(parity_db), read_only=True)
    for table, keys in OUTPUT_KEYS.items():
        key_sql = ", ".join(keys)
        duck = {tuple(str(v) for v in row[:-1]): row[-1] for row in connection.execute(
            f"select {key_sql}, data_hash from dev_nba_precompute.{table}").fetchall()}
        bq = {tuple(str(v) for v in row.values()[:-1]): row.values()[-1] for row in client.query(
            f"select {key_sql}, data_hash from `{BQ_PROJECT}`.`nba_precompute`.`{table}`").result()}
        only_duck = sorted(set(duck) - set(bq))
        only_bq = sorted(set(bq) - set(duck))
        differ = sorted(k for k in set(duck) & set(bq) if duck[k] != bq[k])
        details = [f"only on DuckDB: {k}" for k in only_duck[:3]] + [f"only on BigQuery: {k}" for k in only_bq[:3]]
        if differ:
            details += column_differences(connection, client, table, keys, differ[:3])
        report.verdict(not (only_duck or only_bq or differ),
                       f"parity {table}: {len(duck)} DuckDB rows, {len(bq)} emulator rows, "
                       f"{len(only_duck)} only-DuckDB, {len(only_bq)} only-emulator, {len(differ)} data_hash differences",
                       details)
    python_parity(report, client, connection, work_dir)
    connection.close()


def column_differences(connection, client, table: str, keys: list[str], sample: list[tuple]) -> list[str]:
    """Which columns differ for a few keys whose data_hash differs between the engines."""
    lines = []
    for key in sample:
        where = " and ".join(f"cast({k} as {'varchar'}) = '{v}'" for k, v in zip(keys, key))
        duck_row = connection.execute(f"select * from dev_nba_precompute.{table} where {where}").fetchdf().iloc[0].to_dict()
        where_bq = " and ".join(f"cast({k} as string) = '{v}'" for k, v in zip(keys, key))
        bq_row = dict(list(client.query(f"select * from `{BQ_PROJECT}`.`nba_precompute`.`{table}` where {where_bq}").result())[0])
        diffs = []
        for column, value in duck_row.items():
            if column in ("created_at", "processed_at", "updated_at", "data_hash"):
                continue
            other = bq_row.get(column)
            if _normal(value) != _normal(other):
                diffs.append(f"{column}: duckdb={_normal(value)!r} emulator={_normal(other)!r}")
        lines.append(f"{key}: " + ("; ".join(diffs) if diffs else "no column differs (hash rendering differs)"))
    return lines


def _normal(value):
    import math

    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            value = value.tolist()
    except ImportError:
        pass
    if value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NaTType":
        return None
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        return round(float(value), 6)
    return str(value)[:10] if type(value).__name__ in ("date", "Timestamp", "datetime") else value


# --------------------------------------------------------------------------------------------
# Differential scenario: an upstream correction, re-run vs full refresh
# --------------------------------------------------------------------------------------------

CORRECTED_GAME_DATE = "2021-11-19"  # the game before INCREMENTAL_DATE whose box score is corrected


def append_corrected_row(client, demo_db: Path) -> tuple[str, str]:
    """Re-deliver one player_game_summary row of CORRECTED_GAME_DATE as an upstream re-run writes it
    (points + 7 from seven more free throws, a new data_hash, a newer processed_at) with a CSV append
    load: (player, game)."""
    import duckdb
    from google.cloud import bigquery

    declared = source_types()[("nba_analytics", "player_game_summary")]
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        columns = [row[0] for row in connection.execute(
            "select column_name from information_schema.columns where table_schema = 'nba_analytics'"
            " and table_name = 'player_game_summary' order by ordinal_position").fetchall()]
        row = connection.execute(
            "select * replace (points + 7 as points, ft_makes + 7 as ft_makes,"
            " md5(data_hash || 'corrected') as data_hash,"
            " processed_at + interval 1 day as processed_at) from nba_analytics.player_game_summary"
            f" where game_date = date '{CORRECTED_GAME_DATE}' and is_active and minutes_played > 0"
            " order by player_lookup limit 1").fetchone()
    schema = [bigquery.SchemaField(name, declared[name]) for name in columns]
    text = ",".join(columns) + "\n" + ",".join(csv_value(v, f.field_type) for v, f in zip(row, schema)) + "\n"
    client.load_table_from_file(
        io.BytesIO(text.encode()), f"{BQ_PROJECT}.nba_analytics.player_game_summary",
        job_config=bigquery.LoadJobConfig(source_format="CSV", skip_leading_rows=1, schema=schema,
                                          write_disposition="WRITE_APPEND")).result(timeout=300)
    return row[columns.index("player_lookup")], row[columns.index("game_id")]


def window_state(client) -> dict:
    """{table: {key: row}} of INCREMENTAL_DATE's rows of the SQL output tables, bookkeeping columns left out."""
    state = {}
    for table, keys in OUTPUT_KEYS.items():
        rows = client.query(f"select * except (created_at, processed_at) from `{BQ_PROJECT}`.`nba_precompute`.`{table}`"
                            f" where {keys[1]} = date '{INCREMENTAL_DATE}'").result()
        state[table] = {tuple(str(dict(r)[k]) for k in keys): {c: _normal(v) for c, v in dict(r).items()} for r in rows}
    return state


def correction_scenario(report: Report, client, work_dir: Path, demo_db: Path, env_for, profile: list[str]) -> None:
    """After a corrected box score, `dbt run --vars {date}` equals a full refresh of that date."""
    player, game = append_corrected_row(client, demo_db)
    window = f"{{date: {INCREMENTAL_DATE}, completeness_severity: warn, allow_full_refresh_of_window: true}}"
    _, output = dbt_step(report, work_dir, env_for, "run-after-correction",
                         ["run", *profile, "--selector", SELECTOR, "--vars", window])
    written = rows_written(output or "")
    incremental = window_state(client)
    dbt_step(report, work_dir, env_for, "run-full-refresh-of-date",
             ["run", *profile, "--selector", SELECTOR, "--full-refresh", "--vars", window])
    rebuilt = window_state(client)
    problems = []
    for table in OUTPUT_KEYS:
        left, right = incremental[table], rebuilt[table]
        problems += [f"{table} {k}: only after one of the runs" for k in sorted(left.keys() ^ right.keys())[:3]]
        problems += [f"{table} {k}: " + ", ".join(c for c in right[k] if left[k].get(c) != right[k][c])
                     for k in sorted(left.keys() & right.keys()) if left[k] != right[k]][:3]
    report.verdict(not problems and written.get("player_shot_zone_analysis", 0) + written.get("player_daily_cache", 0) > 0,
                   f"a corrected box score ({player}, {game}): the re-run of {INCREMENTAL_DATE} wrote {written} and equals"
                   f" a full refresh of the date ({sum(len(v) for v in rebuilt.values())} rows compared)", problems)


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def default_work_dir() -> Path:
    """/tmp/bq/emulator-<hash of this checkout's path>: one work folder per checkout."""
    return Path("/tmp/bq") / f"emulator-{hashlib.sha256(str(PROJECT_DIR).encode()).hexdigest()[:10]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path(os.environ.get("BQ_EMULATOR_DIR") or default_work_dir()))
    parser.add_argument("--no-parity", action="store_true", help="skip the DuckDB parity build")
    args = parser.parse_args()
    work_dir = args.work_dir.resolve()
    if work_dir == PROJECT_DIR or (PROJECT_DIR in work_dir.parents and work_dir.relative_to(PROJECT_DIR).parts[0] in ("target", "logs")):
        parser.error("--work-dir must not be the project's target/ or logs/")
    shutil.rmtree(work_dir, ignore_errors=True)
    (work_dir / "profiles").mkdir(parents=True)
    shutil.copy(PROFILES_TEMPLATE, work_dir / "profiles" / "profiles.yml")
    report = Report()
    emulator = None

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        report.step("Emulator")
        crucible = ensure_emulator_venv()
        emulator = Emulator(crucible, work_dir)
        health = emulator.wait_ready()
        report.verdict(health.get("status") == "ok",
                       f"crucible {CRUCIBLE_VERSION} serving BigQuery on {emulator.endpoint} (duckdb {health.get('duckdb')}, sqlglot {health.get('sqlglot')})")
        client = bigquery_client(emulator.endpoint)

        def env_for(name: str) -> dict:
            return dbt_env(work_dir, emulator.endpoint, name)

        report.step("Demo Phase 3 data")
        demo_db = work_dir / "demo.duckdb"
        if HANDED_DEMO:
            shutil.copy(HANDED_DEMO / "source.duckdb", demo_db)
        else:
            subprocess.run([sys.executable, "-m", "nba_phase3_gen", "--db", str(demo_db), *DEMO_ARGS],
                           cwd=PROJECT_DIR, check=True, capture_output=True, text=True)
        load_demo_data(client, demo_db, report)

        emulator_profile = ["--profile", "nba_precompute_emulator", "--target", "prod"]
        report.step("dbt seed on the emulator")
        dbt_step(report, work_dir, env_for, "seed", ["seed", *emulator_profile, "--selector", SELECTOR], expect_models=False)
        manifest = read_manifest(Path(env_for("seed")["DBT_TARGET_PATH"]))
        OUTPUT_KEYS.update({o.name: list(o.key) for o in outputs(manifest).values() if not reads_python_model(manifest, o)})
        PYTHON_OUTPUTS.update({o.name: o for o in outputs(manifest).values() if o.language == "python"})

        report.step("dbt build --full-refresh on the emulator (every SQL model, data and unit tests)")
        dbt_step(report, work_dir, env_for, "build-full-refresh",
                 ["build", *emulator_profile, "--selector", SELECTOR, "--full-refresh",
                  "--vars", "{completeness_severity: warn}"])
        python, first = python_first_build(report, client, work_dir, env_for, emulator_profile)

        report.step(f"dbt build --vars '{{date: {INCREMENTAL_DATE}}}' on the emulator (incremental MERGE)")
        # Unit tests do not read the warehouse's data: the full-refresh build ran them already.
        jobs_before = emulator.jobs()
        counts, output = dbt_step(report, work_dir, env_for, "build-date",
                                  ["build", *emulator_profile, "--selector", SELECTOR, "--exclude-resource-type", "unit_test",
                                   "--vars", f"{{date: {INCREMENTAL_DATE}}}"])
        nodes = {kind: sum(statuses.values()) for kind, statuses in (counts or {}).items()}
        print(f"         BigQuery cost: the dated build issued {emulator.jobs() - jobs_before} query jobs"
              f" for {nodes.get('model', 0)} models and {nodes.get('test', 0)} tests (hooks, guards and merges included)")
        written = rows_written(output or "")
        report.verdict(set(written) == set(OUTPUT_KEYS) and not any(written.values()),
                       f"re-running a built date with unchanged inputs writes 0 rows: {written}")

        python_incremental(report, work_dir, env_for, emulator_profile, python, first)

        report.step("dbt build (catch-up mode, no date vars) on the emulator, freshness as of the demo's last nightly run")
        dbt_step(report, work_dir, env_for, "build-catch-up",
                 ["build", *emulator_profile, "--selector", SELECTOR, "--exclude-resource-type", "unit_test",
                  "--vars", "{freshness_as_of: '2021-12-01 11:00:00'}"])

        report.step("dbt source freshness on the emulator (freshness_sql, the query of the build's freshness gate)")
        code, output = run_dbt(["source", "freshness", *emulator_profile], env_for("freshness-default"),
                               "freshness", "freshness-default", work_dir)
        report.verdict(code != 0 and "ERROR STALE" in output,
                       "with the default thresholds the 2021 demo data is error-stale and the command fails")
        code, output = run_dbt(["source", "freshness", *emulator_profile, "--vars", "{date: 2021-11-20}"],
                               env_for("freshness-as-of"), "freshness", "freshness-as-of", work_dir)
        report.verdict(code == 0 and output.count("PASS") >= 6,
                       "as of 2021-11-20's nightly run (default thresholds) every source was on time",
                       [] if code == 0 else output.strip().splitlines()[-10:])

        duplicates, counts = [], []
        for table, keys in OUTPUT_KEYS.items():
            key_sql = ", ".join(keys)
            relation = f"`{BQ_PROJECT}`.`nba_precompute`.`{table}`"
            try:
                rows = list(client.query(f"select {key_sql}, count(*) as n from {relation}"
                                         f" group by {key_sql} having count(*) > 1").result())
                count = list(client.query(f"select count(*) as n from {relation}").result())[0].n
            except Exception as error:  # noqa: BLE001 - a missing table is a failure, not a crash
                duplicates.append(f"{table}: {str(error).splitlines()[0][:200]}")
                continue
            duplicates += [f"{table}: {dict(r)}" for r in rows[:3]]
            counts.append(f"{table} {count}")
        report.verdict(not duplicates and all(not c.endswith(" 0") for c in counts),
                       f"output tables hold rows, one per unique key ({', '.join(counts)})", duplicates)

        if not args.no_parity:
            report.step("Engine parity: the same build on DuckDB, row by row data_hash")
            parity(report, client, work_dir, demo_db, env_for)

        report.step("Regression tests on the emulator (pytest tests/bigquery)")
        env = env_for("regression")
        env.update(BQ_REGRESSION_DATE=INCREMENTAL_DATE, BQ_REGRESSION_WORK_DIR=str(work_dir), DBT_EXECUTABLE=dbt_executable(),
                   BQ_OUTPUT_KEYS=json.dumps(OUTPUT_KEYS))
        # its dbt build of INCREMENTAL_DATE finds the parse of the steps with the same profile and vars
        with shared_parse(work_dir / "parse", env, [*emulator_profile, "--vars", f"{{date: {INCREMENTAL_DATE}}}"]):
            result = subprocess.run(
                [sys.executable, "-m", "pytest", "tests/bigquery", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra"],
                cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        (work_dir / "pytest.out").write_text(result.stdout + result.stderr)
        lines = (result.stdout + result.stderr).strip().splitlines()
        report.verdict(result.returncode == 0, f"pytest tests/bigquery: {lines[-1] if lines else 'no output'}",
                       [] if result.returncode == 0 else lines[-25:])

        report.step("Differential scenario: a corrected box score, incremental re-run vs full refresh of the date")
        correction_scenario(report, client, work_dir, demo_db, env_for, emulator_profile)
    except (Failure, subprocess.CalledProcessError, KeyboardInterrupt) as error:
        detail = getattr(error, "stderr", None) or ""
        report.verdict(False, f"aborted: {error}", str(detail).strip().splitlines()[-15:])
    except Exception as error:  # noqa: BLE001 - report any crash as a failure, then stop the server
        report.verdict(False, f"aborted: {type(error).__name__}: {error}")
    finally:
        if emulator is not None:
            emulator.stop()
    print(f"\nWork files: {work_dir} ({time.time() - report.started:.0f} s)")
    print(f"bigquery_emulator: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
