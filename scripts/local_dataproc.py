"""dbt against the BigQuery emulator, with Python models submitted to local Spark instead of Dataproc.

    .venv/bin/python scripts/local_dataproc.py build --select ml_feature_store_v2 --profile nba_precompute_emulator ...

Runs `dbt <args>` in this process (dbtRunner) with one change: dbt-bigquery's submission helper for
`submission_method: serverless` (ServerlessDataProcHelper, which uploads the script to GCS and
creates a Dataproc batch) is replaced by LocalDataprocHelper. Everything else is dbt-bigquery's
own: the incremental materialization (temporary table, then the project's MERGE), the hooks
(attach_row_hash), the tests and every SQL statement run on the emulator at $BQ_EMULATOR_ENDPOINT.

LocalDataprocHelper.submit(script) runs the exact script dbt-bigquery would submit, on local Spark
(scripts/spark_submit.py in .venv-spark/): every table the script reads (its `ref`s, and `this` for
the models' stored rows) is exported from the emulator to Parquet with its BigQuery column types
and served by spark_submit's loader; the DataFrame the script writes through
`df.write.format("bigquery")...save(table)` is loaded into that emulator table (CREATE OR REPLACE
with the written schema, partitioning and clustering, then INSERTs: the emulator loads only CSV,
which cannot carry arrays). Exit status: dbt's.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "scripts"))

INSERT_BATCH = 200


def _client():
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=os.environ.get("BQ_PROJECT", "nba-props-platform"),
                           credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": os.environ["BQ_EMULATOR_ENDPOINT"]})


def _bq_type(field) -> str:
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
    return {"path": str(path), "columns": [(field.name, _bq_type(field)) for field in schema]}


def _arrow_type(field):
    import pyarrow as pa

    base = {"STRING": pa.string(), "INTEGER": pa.int64(), "INT64": pa.int64(), "FLOAT": pa.float64(),
            "FLOAT64": pa.float64(), "NUMERIC": pa.decimal128(38, 9), "BIGNUMERIC": pa.decimal256(76, 38),
            "BOOLEAN": pa.bool_(), "BOOL": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us", tz="UTC"),
            "DATETIME": pa.timestamp("us")}[field.field_type]
    return pa.list_(base) if field.mode == "REPEATED" else base


def literal(value, bq_type: str) -> str:
    """A BigQuery literal of `value` for a column of `bq_type`."""
    if bq_type.startswith("ARRAY<"):
        element = bq_type[6:-1]
        if value is None:
            return "null"
        return f"ARRAY<{element.split('(')[0]}>[{', '.join(literal(v, element) for v in value)}]"
    if value is None or (isinstance(value, float) and value != value and bq_type != "FLOAT64"):
        return f"cast(null as {bq_type.split('(')[0].lower()})"
    base = bq_type.split("(")[0]
    if base == "STRING":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    if base in ("NUMERIC", "BIGNUMERIC"):
        return f"{base.lower()} '{decimal.Decimal(value)}'"
    if base == "FLOAT64":
        return f"cast('{value!r}' as float64)" if value != value or value in (float("inf"), float("-inf")) else repr(float(value))
    if base == "INT64":
        return str(int(value))
    if base == "BOOL":
        return "true" if value else "false"
    if base == "DATE":
        return f"date '{value.isoformat() if isinstance(value, dt.date) else value}'"
    if base == "TIMESTAMP":
        stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        stamp = stamp.replace(tzinfo=dt.timezone.utc) if stamp.tzinfo is None else stamp.astimezone(dt.timezone.utc)
        return f"timestamp '{stamp.isoformat(sep=' ')}'"
    raise ValueError(f"no literal for BigQuery type {bq_type}")


def load_written(client, table: str, result: dict, rows_path: Path) -> int:
    """CREATE OR REPLACE `table` with the written schema and options, then INSERT the written rows."""
    import pyarrow.parquet as pq

    columns = [(name, bq) for name, _, bq, _ in result["schema"]]
    options = result["options"]
    # the connector creates plain NUMERIC columns (the values keep their scale)
    ddl = ", ".join(f"`{name}` " + re.sub(r"NUMERIC\(\d+,\d+\)", "NUMERIC", bq) for name, bq in columns)
    quoted = "`" + table.replace(".", "`.`") + "`"
    partition = f" partition by {options['partitionField']}" if options.get("partitionField") else ""
    cluster = f" cluster by {options['clusteredFields']}" if options.get("clusteredFields") else ""
    client.query(f"create or replace table {quoted} ({ddl}){partition}{cluster}").result()
    rows = pq.read_table(rows_path).to_pylist()
    names = ", ".join(f"`{name}`" for name, _ in columns)
    for start in range(0, len(rows), INSERT_BATCH):
        values = ",\n".join("(" + ", ".join(literal(row[name], bq) for name, bq in columns) + ")"
                            for row in rows[start:start + INSERT_BATCH])
        client.query(f"insert into {quoted} ({names}) values\n{values}").result()
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
        from spark_run import ensure_spark_venv

        started = time.perf_counter()
        python = ensure_spark_venv()
        client = _client()
        work = Path(tempfile.mkdtemp(prefix=f"local_dataproc_{self.model['name']}_"))
        tables = {}
        for table in tables_read(compiled_code):
            exported = export_table(client, table, work / f"{table.replace('.', '__')}.parquet")
            if exported:
                tables[table] = exported
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
        loaded = load_written(client, result["table"], result, work / "out" / "rows.parquet")
        print(f"local Dataproc: {self.model['name']} ran on Spark in {time.perf_counter() - started:.1f} s,"
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
