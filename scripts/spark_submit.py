"""Local stand-in for a Dataproc Serverless batch: runs the script dbt-bigquery submits (scripts/local_dataproc.py).

    <spark venv>/bin/python scripts/spark_submit.py JOB.json

Runs in the Spark venv (scripts/cached_venv.py; requirements-spark.txt: the Spark, pandas and numpy
of the Dataproc Serverless runtime dbt-bigquery submits to), never in the project's `.venv`. One SparkSession
(`local[2]`, session time zone UTC as on Dataproc) runs every step of the job in order; the
script's own `SparkSession.builder.getOrCreate()` returns it.

The only pieces replaced are the two ends the BigQuery connector provides on Dataproc:
- `spark.read.format("bigquery").load(table)` (what dbt's `ref`/`source` call, and what the models
  call to read `this`) is served by a loader: a Parquet file per table (exported from the BigQuery
  emulator by scripts/local_dataproc.py), read by Spark and cast to the types the connector gives
  for the table's BigQuery column types (INT64 -> bigint, FLOAT64 -> double, NUMERIC ->
  decimal(38,9), DATE -> date, TIMESTAMP -> timestamp, ARRAY<T> -> array<T>). Filters the model
  applies run on that DataFrame, as the connector's pushed-down filters would.
- `df.write.format("bigquery")...save(table)` records the DataFrame it is given (Parquet + its
  Spark schema in BigQuery types + the options) instead of loading it into BigQuery.
An unknown table, or a write that is not `format("bigquery")`, fails the step.

JOB.json: {"tables": {"<project.dataset.table>": {"path": parquet, "columns": [[name, bq_type], ...]}},
           "steps": [{"name": ..., "script": path, "output": dir}]}
Writes `<output>/result.json` per step (the table written, its options and schema, the type of the
DataFrame the script's conversion produced, whether pandas-on-Spark imported) and prints one line per step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")  # pandas-on-Spark's own recommendation

# BigQuery column type -> the Spark type the spark-bigquery connector reads it as.
READ_TYPES = {"INT64": "bigint", "FLOAT64": "double", "NUMERIC": "decimal(38,9)", "BIGNUMERIC": "decimal(38,38)",
              "STRING": "string", "BOOL": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "BYTES": "binary"}


def bigquery_type(spark_type) -> str:
    """BigQuery column type the connector creates for a Spark type (what the written table holds)."""
    from pyspark.sql import types as T

    if isinstance(spark_type, T.ArrayType):
        return f"ARRAY<{bigquery_type(spark_type.elementType)}>"
    if isinstance(spark_type, T.DecimalType):
        if spark_type.scale <= 9 and spark_type.precision - spark_type.scale <= 29:
            return f"NUMERIC({spark_type.precision},{spark_type.scale})"
        return f"BIGNUMERIC({spark_type.precision},{spark_type.scale})"
    simple = {T.LongType: "INT64", T.IntegerType: "INT64", T.ShortType: "INT64", T.ByteType: "INT64",
              T.DoubleType: "FLOAT64", T.FloatType: "FLOAT64", T.StringType: "STRING", T.BooleanType: "BOOL",
              T.DateType: "DATE", T.TimestampType: "TIMESTAMP", T.TimestampNTZType: "DATETIME",
              T.BinaryType: "BYTES"}
    for kind, name in simple.items():
        if isinstance(spark_type, kind):
            return name
    return f"UNSUPPORTED({spark_type.simpleString()})"


def read_type(bq_type: str) -> str:
    """Spark SQL type string the connector reads a BigQuery column type as."""
    bq_type = bq_type.upper()
    if bq_type.startswith("ARRAY<"):
        return f"array<{read_type(bq_type[6:-1])}>"
    base = bq_type.split("(")[0]
    if base not in READ_TYPES:
        raise ValueError(f"loader: no connector type for BigQuery type {bq_type}")
    return READ_TYPES[base]


class Job:
    def __init__(self, spec: dict):
        self.tables = {self.key(name): entry for name, entry in spec["tables"].items()}
        self.steps = spec["steps"]
        self.written = None  # (table, options, DataFrame) of the current step

    @staticmethod
    def key(table: str) -> str:
        return str(table).replace("`", "")

    def load(self, spark, table: str):
        entry = self.tables.get(self.key(table))
        if entry is None:
            raise LookupError(f"loader: no table {table!r} (known: {', '.join(sorted(self.tables))})")
        from pyspark.sql import functions as F

        frame = spark.read.parquet(entry["path"])
        present = set(frame.columns)
        missing = [name for name, _ in entry["columns"] if name not in present]
        if missing:
            raise LookupError(f"loader: {table} lacks columns {missing}")
        return frame.select([F.col(name).cast(read_type(kind)).alias(name) for name, kind in entry["columns"]])


def install_connector_stand_in(spark, job: Job) -> None:
    """spark.read.format('bigquery') -> the loader; DataFrame.write.format('bigquery') -> recorded."""
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter

    original_reader_format = DataFrameReader.format
    original_writer_format = DataFrameWriter.format

    class BigQueryReader:
        def __init__(self):
            self.options = {}

        def option(self, key, value):
            self.options[key] = value
            return self

        def load(self, table=None):
            return job.load(spark, table or self.options.get("table"))

    class BigQueryWriter:
        def __init__(self, writer):
            self.frame = writer._df
            self.options = {"mode": getattr(writer, "_dbt_mode", None)}

        def mode(self, value):
            self.options["mode"] = value
            return self

        def option(self, key, value):
            self.options[key] = value
            return self

        def save(self, table=None):
            job.written = (job.key(table or self.options.get("table")), dict(self.options), self.frame)

    def reader_format(self, source):
        return BigQueryReader() if source == "bigquery" else original_reader_format(self, source)

    def writer_format(self, source):
        return BigQueryWriter(self) if source == "bigquery" else original_writer_format(self, source)

    DataFrameReader.format = reader_format
    DataFrameWriter.format = writer_format

    # the script chains .mode("overwrite").format("bigquery"): keep the mode on the writer
    original_mode = DataFrameWriter.mode

    def writer_mode(self, value):
        self._dbt_mode = value
        return original_mode(self, value)

    DataFrameWriter.mode = writer_mode


def run_step(spark, job: Job, step: dict) -> dict:
    script = Path(step["script"]).read_text()
    output = Path(step["output"])
    output.mkdir(parents=True, exist_ok=True)
    job.written = None
    started = time.perf_counter()
    namespace = {"__name__": "__main__"}
    exec(compile(script, step["script"], "exec"), namespace)  # noqa: S102 - the script dbt would submit
    if job.written is None:
        raise RuntimeError(f"{step['name']}: the script wrote nothing through format('bigquery')")
    table, options, frame = job.written
    frame = frame.cache()
    rows = frame.count()
    model_seconds = time.perf_counter() - started
    frame.write.mode("overwrite").parquet(str(output / "rows.parquet"))
    schema = [(field.name, field.dataType.simpleString(), bigquery_type(field.dataType), field.nullable)
              for field in frame.schema.fields]
    result = {
        "name": step["name"], "table": table, "options": options, "rows": rows,
        "seconds": round(model_seconds, 2), "schema": schema,
        "returned": type(namespace.get("df")).__module__ + "." + type(namespace.get("df")).__name__,
        "pyspark_pandas": bool(namespace.get("pyspark_pandas_api_available")),
    }
    frame.unpersist()
    (output / "result.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> int:
    job_path = Path(sys.argv[1])
    started = time.perf_counter()
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("dbt-python-models")
             .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.shuffle.partitions", "4").config("spark.driver.memory", "4g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark {spark.version} session in {time.perf_counter() - started:.1f} s", flush=True)
    job_started = time.perf_counter()
    spec = json.loads(job_path.read_text())
    job = Job(spec)
    install_connector_stand_in(spark, job)
    failed = False
    for step in spec["steps"]:
        try:
            result = run_step(spark, job, step)
            print(f"step {step['name']}: {result['rows']} rows written to {result['table']} "
                  f"in {result['seconds']} s", flush=True)
        except Exception as error:  # noqa: BLE001 - report the step, go on with the others
            import traceback

            failed = True
            Path(step["output"]).mkdir(parents=True, exist_ok=True)
            (Path(step["output"]) / "result.json").write_text(json.dumps(
                {"name": step["name"], "error": f"{type(error).__name__}: {error}",
                 "traceback": traceback.format_exc()}, indent=2))
            print(f"step {step['name']}: FAILED {type(error).__name__}: {error}", flush=True)
    print(f"spark job done in {time.perf_counter() - job_started:.1f} s after its job file"
          f" ({time.perf_counter() - started:.1f} s since the start)", flush=True)
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
