"""dbt against the BigQuery emulator, with Python models submitted to local Spark instead of Dataproc.

    .venv/bin/python scripts/local_dataproc.py build --select ml_feature_store_v2 --profile nba_precompute_emulator ...

Runs `dbt <args>` in this process (dbtRunner) with one change: dbt-bigquery's submission helper for
`submission_method: serverless` (ServerlessDataProcHelper, which uploads the script to GCS and
creates a Dataproc batch) is replaced by LocalDataprocHelper. Everything else is dbt-bigquery's
own: the incremental materialization (temporary table, then the project's MERGE), the hooks
(attach_row_hash), the tests and every SQL statement run on the emulator at $BQ_EMULATOR_ENDPOINT.

LocalDataprocHelper.submit(script) runs the exact script dbt-bigquery would submit, on local Spark
(scripts/spark_submit.py in the Spark venv): every table the script reads (its `ref`s, and `this` for
the models' stored rows) is exported from the emulator to Parquet with its BigQuery column types
and served by spark_submit's loader; the DataFrame the script writes through
`df.write.format("bigquery")...save(table)` is loaded into that emulator table (CREATE OR REPLACE
with the written schema, partitioning and clustering, then a CSV load job with the array columns
as text and one INSERT ... SELECT that rebuilds them: the emulator loads only CSV). Exit status: dbt's.

The load enforces BigQuery's rule for stored arrays: a written ARRAY column holding a NULL element
fails the submission (naming the table, column and row count), as the connector's write would.
With $LOCAL_DATAPROC_RECORD set, each submission appends one JSON line to that file: the model, the
table written, the write options, the written schema in BigQuery types, the script's path, what the
model returned and whether pandas-on-Spark imported (scripts/bigquery_emulator.py asserts on them).

The Spark venv (requirements-spark.txt: the Spark, pandas and numpy of the Dataproc Serverless
runtime) is built on first use in the user's cache (scripts/cached_venv.py; $SPARK_VENV overrides
where); `java` must be on PATH (`make java` installs Debian's headless JRE when it is not).
"""

from __future__ import annotations

import decimal
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "scripts"))
SPARK_REQUIREMENTS = PROJECT_DIR / "requirements-spark.txt"


def ensure_spark_venv() -> Path:
    """The python of the Spark venv: exactly requirements-spark.txt, built once per set of pins in the
    user's cache and shared by every clone (scripts/cached_venv.py); $SPARK_VENV overrides where.
    RuntimeError naming the fix when Java (which Spark needs) is missing."""
    from cached_venv import ensure_venv, requirement_lines

    if not shutil.which("java"):
        raise RuntimeError("Spark needs Java 17: `java` is not on PATH (run `make java`, which installs"
                           " Debian's default-jre-headless, or install a JRE 17)")
    override = Path(os.environ["SPARK_VENV"]) if os.environ.get("SPARK_VENV") else None
    return ensure_venv("spark", requirement_lines(SPARK_REQUIREMENTS.read_text()), override) / "bin" / "python"


def _client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=os.environ.get("BQ_PROJECT", "nba-props-platform"),
                           credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": os.environ["BQ_EMULATOR_ENDPOINT"]})


def bq_type(field) -> str:
    kind = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}.get(field.field_type, field.field_type)
    return f"ARRAY<{kind}>" if field.mode == "REPEATED" else kind


def export_table(client, table: str, path: Path) -> dict | None:
    """The emulator table as Parquet plus its BigQuery column types (None when it does not exist)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from google.api_core.exceptions import NotFound

    try:
        schema = client.get_table(table).schema
    except NotFound:
        return None
    rows = [dict(row) for row in client.query(f"select * from `{table.replace('.', '`.`')}`").result()]
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.mode == "REPEATED":
            values = [list(v) if v is not None else None for v in values]
        columns[field.name] = pa.array(values, type=_arrow_type(field))
    pq.write_table(pa.table(columns) if columns else pa.table({}), path)
    return {"path": str(path), "columns": [(field.name, bq_type(field)) for field in schema]}


def _arrow_type(field):
    import pyarrow as pa

    base = {"STRING": pa.string(), "INTEGER": pa.int64(), "INT64": pa.int64(), "FLOAT": pa.float64(),
            "FLOAT64": pa.float64(), "NUMERIC": pa.decimal128(38, 9), "BIGNUMERIC": pa.decimal256(76, 38),
            "BOOLEAN": pa.bool_(), "BOOL": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us", tz="UTC"),
            "DATETIME": pa.timestamp("us")}[field.field_type]
    return pa.list_(base) if field.mode == "REPEATED" else base


# Array columns travel through the CSV load as text: '[' then the elements joined by SEPARATOR.
SEPARATOR = "\u241f"


def csv_cell(value, bq_type: str) -> str:
    """One CSV cell of a column of `bq_type` for the emulator's load job (arrays as text, see SEPARATOR)."""
    from bigquery_emulator import csv_value

    if bq_type.startswith("ARRAY<"):
        if value is None:
            return ""
        element = bq_type[6:-1].split("(")[0]
        parts = [repr(float(v)) if element == "FLOAT64" else str(v) for v in value]
        if any(SEPARATOR in part for part in parts):
            raise ValueError(f"an array element holds the separator {SEPARATOR!r}: {value!r}")
        return csv_value("[" + SEPARATOR.join(parts), "STRING")
    base = bq_type.split("(")[0]
    if base in ("NUMERIC", "BIGNUMERIC") and value is not None:
        return format(decimal.Decimal(value), "f")  # exact, whatever the scale
    return csv_value(value, base)


def array_from_text(column: str, bq_type: str) -> str:
    """The SQL that turns an array column loaded as text (csv_cell) back into ARRAY<T>, in order."""
    element = bq_type[6:-1].split("(")[0]
    return (f"case when `{column}` is null then null else array(select cast(part as {element})"
            f" from unnest(split(substr(`{column}`, 2), '{SEPARATOR}')) as part with offset position"
            f" where `{column}` != '[' order by position) end")


def refuse_null_array_elements(table: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    """BigQuery refuses to store an ARRAY holding a NULL element (the connector's write fails): so does
    the stand-in, naming the table, each such column and how many rows hold one."""
    counts = {name: sum(1 for row in rows if row[name] is not None and any(v is None for v in row[name]))
              for name, bq in columns if bq.startswith("ARRAY<")}
    refused = {name: count for name, count in counts.items() if count}
    if refused:
        raise ValueError(f"BigQuery refuses NULL elements in an ARRAY: the write to {table} holds them in "
                         + ", ".join(f"{name} ({count} rows)" for name, count in refused.items()))


def load_written(client, table: str, result: dict, rows_path: Path) -> int:
    """CREATE OR REPLACE `table` with the written schema and options, then load the written rows
    (refused, before the table is touched, when an array holds a NULL element).

    The emulator loads only CSV, so the rows go to a staging table by one CSV load job (array
    columns as text) and from there into `table` by one INSERT ... SELECT that rebuilds the arrays:
    two short statements, where INSERTs of literal rows cost the emulator's SQL parser about
    30 s per 300 rows."""
    import pyarrow.parquet as pq
    from google.cloud import bigquery

    columns = [(name, bq) for name, _, bq, _ in result["schema"]]
    rows = pq.read_table(rows_path).to_pylist()
    refuse_null_array_elements(table, columns, rows)
    options = result["options"]
    # the connector creates plain NUMERIC columns (the values keep their scale)
    ddl = ", ".join(f"`{name}` " + re.sub(r"NUMERIC\(\d+,\d+\)", "NUMERIC", bq) for name, bq in columns)
    quoted = "`" + table.replace(".", "`.`") + "`"
    partition = f" partition by {options['partitionField']}" if options.get("partitionField") else ""
    cluster = f" cluster by {options['clusteredFields']}" if options.get("clusteredFields") else ""
    client.query(f"create or replace table {quoted} ({ddl}){partition}{cluster}").result()
    if not rows:
        return 0
    staging = f"{table}__local_dataproc_load"
    lines = [",".join(name for name, _ in columns)]
    lines += [",".join(csv_cell(row[name], bq) for name, bq in columns) for row in rows]
    schema = [bigquery.SchemaField(name, "STRING" if bq.startswith("ARRAY<") else bq.split("(")[0]) for name, bq in columns]
    client.load_table_from_file(
        io.BytesIO(("\n".join(lines) + "\n").encode()), staging,
        job_config=bigquery.LoadJobConfig(source_format="CSV", skip_leading_rows=1, schema=schema,
                                          write_disposition="WRITE_TRUNCATE")).result()
    select = ", ".join(array_from_text(name, bq) if bq.startswith("ARRAY<") else f"`{name}`" for name, bq in columns)
    staged = "`" + staging.replace(".", "`.`") + "`"
    client.query(f"insert into {quoted} ({', '.join(f'`{name}`' for name, _ in columns)}) select {select} from {staged}").result()
    client.delete_table(staging)
    return len(rows)


def tables_read(script: str) -> list[str]:
    """The tables the script reads: its ref()/source() relations and `this` (its own table)."""
    tables = []
    for mapping in re.findall(r"^    (?:refs|sources) = (\{.*\})$", script, flags=re.M):
        tables += list(json.loads(mapping).values())
    this = re.search(r'class this:.*?database = "([^"]+)"\s+schema = "([^"]+)"\s+identifier = "([^"]+)"', script, re.S)
    if this:
        tables.append(".".join(this.groups()))
    return [t.replace("`", "") for t in tables]


class LocalDataprocHelper:
    """PythonJobHelper for submission_method serverless: local Spark instead of a Dataproc batch."""

    def __init__(self, parsed_model: dict, credentials):
        self.model = parsed_model

    def submit(self, compiled_code: str):
        from dbt.adapters.base import PythonSubmissionResult

        started = time.perf_counter()
        python = ensure_spark_venv()
        client = _client()
        work = Path(tempfile.mkdtemp(prefix=f"local_dataproc_{self.model['name']}_"))
        tables = {}
        for table in tables_read(compiled_code):
            exported = export_table(client, table, work / f"{table.replace('.', '__')}.parquet")
            if exported:
                tables[table] = exported
        exported_at = time.perf_counter()
        (work / "script.py").write_text(compiled_code)
        step = {"name": self.model["name"], "script": str(work / "script.py"), "output": str(work / "out")}
        (work / "job.json").write_text(json.dumps({"tables": tables, "steps": [step]}))
        env = {**os.environ, "TZ": "UTC", "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python)}
        run = subprocess.run([str(python), str(PROJECT_DIR / "scripts" / "spark_submit.py"), str(work / "job.json")],
                             capture_output=True, text=True, env=env)
        result = json.loads((work / "out" / "result.json").read_text()) if (work / "out" / "result.json").exists() else {}
        if run.returncode != 0 or result.get("error"):
            raise RuntimeError(f"local Spark run of {self.model['name']} failed: {result.get('error')}\n"
                               + (result.get("traceback") or (run.stdout + run.stderr)[-3000:]))
        ran_at = time.perf_counter()
        loaded = load_written(client, result["table"], result, work / "out" / "rows.parquet")
        done = time.perf_counter()
        if os.environ.get("LOCAL_DATAPROC_RECORD"):
            with open(os.environ["LOCAL_DATAPROC_RECORD"], "a") as record:
                record.write(json.dumps({"model": self.model["name"], "script": step["script"], "rows": loaded,
                                         **{key: result[key] for key in ("table", "options", "schema", "returned",
                                                                         "pyspark_pandas")}}) + "\n")
        print(f"local Dataproc: {self.model['name']} ran on Spark in {done - started:.1f} s (export"
              f" {exported_at - started:.1f} s, Spark {ran_at - exported_at:.1f} s, load {done - ran_at:.1f} s),"
              f" {loaded} rows written to {result['table']} (tables read: {', '.join(tables) or 'none'})", flush=True)
        return PythonSubmissionResult(run_id=f"local-{uuid.uuid4().hex[:12]}", compiled_code=compiled_code)


def main() -> int:
    from dbt.adapters.bigquery.impl import BigQueryAdapter
    from dbt.cli.main import dbtRunner

    helpers = {"serverless": LocalDataprocHelper}
    BigQueryAdapter.python_submission_helpers = property(lambda self: helpers)
    result = dbtRunner().invoke(sys.argv[1:])
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
