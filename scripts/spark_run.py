"""Run the Python models (every version) on local Spark as dbt-bigquery's Dataproc wrapper runs them, and compare
every column with the DuckDB run of the same window.

    .venv/bin/python scripts/spark_run.py --db data/nba.duckdb --vars '{date: 2021-12-01}' [--work-dir target/spark]

`--db` is a DuckDB database where `dbt build --select +ml_feature_store_v2 --vars <the same vars>`
ran (e.g. `make demo`). Steps:
 1. The Spark venv (requirements-spark.txt: the Spark 3.5 / pandas 2.2 / numpy 1.26 of the Dataproc
    Serverless runtime) is built on first use in the user's cache (scripts/cached_venv.py); `java`
    must be on PATH (`make java` installs Debian's headless JRE when it is not).
 2. scripts/spark_compile.py renders, offline for the BigQuery `prod` target, the scripts
    dbt-bigquery submits: first build and incremental run of each Python model.
 3. The tables the models read (`ref`) are written from the DuckDB run to Parquet with their
    BigQuery column types; scripts/spark_submit.py runs the scripts in one SparkSession, in
    dbt's order: every model's first build (parents first), then their incremental runs,
    which read `this` (what the first build wrote) through the same loader.
 4. Every written DataFrame is compared with the DuckDB table, row by row (key player_lookup,
    game_date) and column by column; its Spark schema is checked against the DuckDB table's column
    types in BigQuery terms (DATE, NUMERIC scale, ARRAY<FLOAT64>, ARRAY<STRING>, TIMESTAMP, ...).

Prints one line per step and comparison and writes `<work-dir>/report.json`; exit status 0 only
when every step ran and every comparison holds. tests/python/integration/test_spark_python_models.py runs the
same functions on the demo date inside `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cached_venv import ensure_venv, requirement_lines

PROJECT_DIR = Path(__file__).resolve().parents[1]
SPARK_REQUIREMENTS = PROJECT_DIR / "requirements-spark.txt"
KEY = ("player_lookup", "game_date")
# Columns whose value is the moment or the duration of the write, never equal between two runs.
WRITE_TIME_COLUMNS = {"created_at", "processed_at", "updated_at", "feature_generation_time_ms"}

# DuckDB column type -> BigQuery column type (what the same SQL model holds on BigQuery).
DUCKDB_TO_BIGQUERY = {
    "VARCHAR": "STRING", "BIGINT": "INT64", "INTEGER": "INT64", "SMALLINT": "INT64", "TINYINT": "INT64",
    "HUGEINT": "INT64", "UBIGINT": "INT64", "UINTEGER": "INT64", "DOUBLE": "FLOAT64", "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL", "DATE": "DATE", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "TIMESTAMP": "TIMESTAMP",
}


def bigquery_type(duckdb_type: str) -> str:
    """BigQuery type of a DuckDB column type: DECIMAL(p,s) -> NUMERIC(p,s), T[] -> ARRAY<T>."""
    duckdb_type = duckdb_type.upper()
    if duckdb_type.endswith("[]"):
        return f"ARRAY<{bigquery_type(duckdb_type[:-2])}>"
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "NUMERIC").replace(" ", "")
    if duckdb_type not in DUCKDB_TO_BIGQUERY:
        raise ValueError(f"no BigQuery type for DuckDB type {duckdb_type}")
    return DUCKDB_TO_BIGQUERY[duckdb_type]


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


def ensure_spark_venv() -> Path:
    """The python of the Spark venv: exactly requirements-spark.txt, built once per set of pins in the
    user's cache and shared by every clone (scripts/cached_venv.py); $SPARK_VENV overrides where."""
    requirements = requirement_lines(SPARK_REQUIREMENTS.read_text())
    override = Path(os.environ["SPARK_VENV"]) if os.environ.get("SPARK_VENV") else None
    return ensure_venv("spark", requirements, override) / "bin" / "python"


def java_version() -> str:
    """`java -version`'s first line; RuntimeError naming the fix when Java is missing."""
    java = shutil.which("java")
    if not java:
        raise RuntimeError("Spark needs Java 17: `java` is not on PATH (run `make java`, which installs"
                           " Debian's default-jre-headless, or install a JRE 17)")
    result = subprocess.run([java, "-version"], capture_output=True, text=True)
    return (result.stderr or result.stdout).splitlines()[0]


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


def compile_scripts(out: Path, dbt_vars: str) -> dict:
    result = subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "spark_compile.py"), "--out", str(out),
                             "--vars", dbt_vars], cwd=PROJECT_DIR, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("spark_compile.py failed:\n" + "\n".join((result.stdout + result.stderr).splitlines()[-30:]))
    return json.loads((out / "described.json").read_text())


def duckdb_table(connection, identifier: str) -> str:
    """The one DuckDB relation named `identifier` (schema-qualified)."""
    rows = connection.execute("select table_schema from information_schema.tables where table_name = ?",
                              [identifier]).fetchall()
    if len(rows) != 1:
        raise LookupError(f"DuckDB database holds {len(rows)} tables named {identifier!r}; expected one"
                          " (run `dbt build --select +ml_feature_store_v2` on it first)")
    return f'"{rows[0][0]}"."{identifier}"'


def columns_of(connection, relation: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in connection.execute(f"describe {relation}").fetchall()]


def export_inputs(db: Path, described: dict, out: Path) -> dict:
    """{prod table: {path, columns}} of every table the models ref, from the DuckDB run (Parquet)."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    tables = {}
    with duckdb.connect(str(db), read_only=True) as connection:
        for entry in described.values():
            for identifier, prod in entry["refs"]:
                relation = duckdb_table(connection, identifier)
                path = out / f"{identifier}.parquet"
                connection.execute(f"copy (select * from {relation}) to '{path}' (format parquet)")
                tables[prod] = {"path": str(path),
                                "columns": [(col, bigquery_type(kind)) for col, kind in columns_of(connection, relation)]}
    return tables


def start_spark(python: Path, work: Path) -> subprocess.Popen:
    """Start the Spark job process ahead of its job file: it opens its session and warms up while
    dbt compiles and the inputs are exported; run_spark then writes the job file."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "job.json").unlink(missing_ok=True)
    env = {**os.environ, "TZ": "UTC", "PYSPARK_PYTHON": str(python), "PYSPARK_DRIVER_PYTHON": str(python)}
    return subprocess.Popen([str(python), str(PROJECT_DIR / "scripts" / "spark_submit.py"), str(work / "job.json")],
                            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def run_spark(python: Path, work: Path, described: dict, tables: dict, process: subprocess.Popen | None = None) -> dict:
    steps = []
    for run in ("first_build", "incremental"):
        for name in described:
            steps.append({"name": f"{name}.{run}", "script": str(work / "scripts" / f"{name}.{run}.py"),
                          "output": str(work / "out" / f"{name}.{run}"),
                          "stores": described[name]["relation"] if run == "first_build" else None})
    job = work / "job.json"
    started = time.perf_counter()
    process = process or start_spark(python, work)
    ready = work / "job.json.tmp"
    ready.write_text(json.dumps({"tables": tables, "steps": steps}, indent=2))
    ready.rename(job)  # atomically: the waiting process never reads half a file
    output, _ = process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, output, "")
    (work / "spark.log").write_text(result.stdout)
    results = {}
    for step in steps:
        path = Path(step["output"]) / "result.json"
        results[step["name"]] = json.loads(path.read_text()) if path.exists() else {
            "name": step["name"], "error": "no result (see spark.log)"}
    return {"seconds": round(time.perf_counter() - started, 1), "exit": result.returncode,
            "log": [line for line in result.stdout.splitlines() if line.startswith(("spark", "step", "warmed"))],
            "steps": results}


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def schema_problems(step: dict, expected: list[tuple[str, str]]) -> list[str]:
    """The written Spark schema in BigQuery terms against the DuckDB table's types in BigQuery terms.
    NUMERIC compares its scale (the connector creates NUMERIC columns; the scale is the stored one)."""
    written = {name: bq for name, _, bq, _ in step["schema"]}
    problems = [f"column {name} missing from the Spark output" for name, _ in expected if name not in written]
    problems += [f"column {name} is not in the DuckDB table" for name in written if name not in dict(expected)]
    for name, kind in expected:
        if name in written and not _same_type(written[name], kind):
            problems.append(f"{name}: Spark writes {written[name]}, the table declares {kind}")
    return problems


def _same_type(written: str, declared: str) -> bool:
    if declared.startswith("NUMERIC(") and written.startswith("NUMERIC("):
        return declared.split(",")[1] == written.split(",")[1]  # same scale (precision: the connector's own)
    return written == declared


def compare(db: Path, written: Path, table: str, window_relation: str, skip=WRITE_TIME_COLUMNS,
            reference: Path | None = None) -> dict:
    """Row-by-row comparison of the Spark output (Parquet) with the DuckDB table `table` on the dates
    of `window_relation` (the model's input): rows compared, rows equal, differing columns.
    With `reference` (Parquet), compare with that output instead of the DuckDB table."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as connection:
        relation = duckdb_table(connection, table)
        window = duckdb_table(connection, window_relation)
        base = (f"(select * from read_parquet('{reference}/*.parquet'))" if reference else
                f"(select * from {relation} where game_date in (select distinct game_date from {window}))")
        columns = [name for name, _ in columns_of(connection, relation) if name not in skip]
        spark_columns = [row[0] for row in connection.execute(
            f"describe select * from read_parquet('{written}/*.parquet')").fetchall()]
        columns = [name for name in columns if name in spark_columns]
        keys = " and ".join(f"s.{k} = d.{k}" for k in KEY)
        differs = ", ".join(f'count(*) filter (where s."{c}" is distinct from d."{c}") as "{c}"' for c in columns)
        equal_row = " and ".join(f's."{c}" is not distinct from d."{c}"' for c in columns)
        sql = (f"select count(*) filter (where s.player_lookup is not null and d.player_lookup is not null),"
               f" count(*) filter (where s.player_lookup is null), count(*) filter (where d.player_lookup is null),"
               f" count(*) filter (where s.player_lookup is not null and d.player_lookup is not null and {equal_row}),"
               f" {differs}"
               f" from (select * from read_parquet('{written}/*.parquet')) s full join {base} d on {keys}")
        row = connection.execute(sql).fetchone()
        sample = []
        differing = {c: n for c, n in zip(columns, row[4:]) if n}
        for column in list(differing)[:5]:
            sample += [f"{column}: {r}" for r in connection.execute(
                f'select s.player_lookup, s.game_date, s."{column}", d."{column}" from'
                f" (select * from read_parquet('{written}/*.parquet')) s join {base} d on {keys}"
                f' where s."{column}" is distinct from d."{column}" limit 2').fetchall()]
    return {"rows_compared": row[0], "only_in_duckdb": row[1], "only_in_spark": row[2], "rows_equal": row[3],
            "columns_compared": len(columns), "differing_columns": differing, "sample": sample}


def null_array_elements(written: Path, step: dict) -> dict:
    """{array column: rows holding a NULL element}: BigQuery refuses to store such an ARRAY."""
    import duckdb

    arrays = [name for name, _, bq, _ in step["schema"] if bq.startswith("ARRAY<")]
    if not arrays:
        return {}
    with duckdb.connect() as connection:
        counts = connection.execute("select " + ", ".join(
            f'count(*) filter (where list_contains(list_transform("{name}", lambda x: x is null), true))'
            for name in arrays) + f" from read_parquet('{written}/*.parquet')").fetchone()
    return {name: count for name, count in zip(arrays, counts) if count}


def run(db: Path, dbt_vars: str, work: Path, rerun_db: Path | None = None, described: dict | None = None,
        process: subprocess.Popen | None = None) -> dict:
    """Compile (unless `described`: scripts already in <work>/scripts), run on Spark, compare; returns
    the report (also written to <work>/report.json). The incremental runs are compared with
    `rerun_db` (the DuckDB database after its own incremental re-run of the window) when given."""
    import duckdb

    if described is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    report = {"vars": dbt_vars, "db": str(db), "java": java_version(), "compile_seconds": None}
    timer = time.perf_counter()
    python = ensure_spark_venv()
    report["setup_seconds"] = round(time.perf_counter() - timer, 1)
    if described is None:
        process = process or start_spark(python, work)  # the session opens while dbt compiles
        timer = time.perf_counter()
        described = compile_scripts(work / "scripts", dbt_vars)
        report["compile_seconds"] = round(time.perf_counter() - timer, 1)
    tables = export_inputs(db, described, work / "inputs")
    report["spark"] = spark = run_spark(python, work, described, tables, process)
    report["comparisons"] = comparisons = {}
    for name in described:
        window = described[name]["refs"][0][0]
        with duckdb.connect(str(db), read_only=True) as connection:
            expected = [(col, bigquery_type(kind)) for col, kind in columns_of(connection, duckdb_table(connection, name))
                        if col not in described[name].get("added_by_sql", [])]
        first = spark["steps"][f"{name}.first_build"]
        for run_name in ("first_build", "incremental"):
            step = spark["steps"][f"{name}.{run_name}"]
            entry = comparisons[f"{name}.{run_name}"] = {"error": step.get("error")}
            if step.get("error"):
                continue
            output = work / "out" / f"{name}.{run_name}" / "rows.parquet"
            entry["written_to"] = step["table"]
            entry["rows_written"] = step["rows"]
            entry["table_columns"] = [column for column, _ in expected]
            entry["schema_problems"] = schema_problems(step, expected)
            entry["null_array_elements"] = null_array_elements(output, step)
            entry["vs_duckdb"] = compare(rerun_db if run_name == "incremental" and rerun_db else db, output, name, window)
            if run_name == "incremental" and not first.get("error"):
                # the same rows as the first build wrote (the write moment aside): dbt's MERGE changes nothing
                entry["vs_first_build"] = compare(db, output, name, window,
                                                  reference=work / "out" / f"{name}.first_build" / "rows.parquet")
    (work / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def problems_of(report: dict) -> list[str]:
    problems = []
    for name, step in report["spark"]["steps"].items():
        if step.get("error"):
            problems.append(f"{name}: {step['error']}")
    for name, entry in report["comparisons"].items():
        if entry.get("error"):
            continue
        problems += [f"{name}: {p}" for p in entry["schema_problems"]]
        problems += [f"{name}: {column} holds a NULL element in {count} rows (BigQuery refuses NULL elements in a stored"
                     f" ARRAY)" for column, count in entry.get("null_array_elements", {}).items()]
        for against in ("vs_duckdb", "vs_first_build"):
            result = entry.get(against)
            if result and (result["rows_equal"] != result["rows_compared"] or result["only_in_duckdb"]
                           or result["only_in_spark"] or not result["rows_compared"]):
                problems.append(f"{name} {against}: {result['rows_equal']} of {result['rows_compared']} rows equal,"
                                f" {result['only_in_duckdb']} only in the reference, {result['only_in_spark']} only"
                                f" in Spark; differing columns {result['differing_columns']}; {result['sample'][:4]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb")))
    parser.add_argument("--vars", default="{date: 2021-12-01}")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_DIR / "target" / "spark")
    parser.add_argument("--rerun-db", type=Path, help="DuckDB database after its incremental re-run (default: --db)")
    args = parser.parse_args()
    report = run(args.db.resolve(), args.vars, args.work_dir.resolve(), args.rerun_db.resolve() if args.rerun_db else None)
    print(f"{report['java']}; compile {report['compile_seconds']} s; spark job {report['spark']['seconds']} s"
          f" (Spark's own wall time, session start included)")
    for line in report["spark"]["log"]:
        print(f"  {line}")
    for name, entry in report["comparisons"].items():
        if entry.get("error"):
            print(f"  {name}: FAILED {entry['error']}")
            continue
        result = entry["vs_duckdb"]
        print(f"  {name}: {entry['rows_written']} rows written to {entry['written_to']}; vs DuckDB:"
              f" {result['rows_equal']} of {result['rows_compared']} rows equal on {result['columns_compared']} columns;"
              f" schema problems: {len(entry['schema_problems'])}")
        if entry.get("vs_first_build"):
            result = entry["vs_first_build"]
            print(f"      vs the first build's rows (the write moment aside): {result['rows_equal']} of {result['rows_compared']} equal")
    problems = problems_of(report)
    for problem in problems:
        print(f"  PROBLEM {problem}")
    print(f"spark_run: {'ok' if not problems else f'{len(problems)} problems'} (report: {args.work_dir / 'report.json'})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
