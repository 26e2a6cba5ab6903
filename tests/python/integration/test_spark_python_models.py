"""The Python models on Spark, as dbt-bigquery's Dataproc wrapper runs them (scripts/spark_run.py).

One Spark job for the whole module (one SparkSession, in the Spark venv): dbt compiles every Python
model (each version of the feature store: its own relation) for the BigQuery `prod` target, and the scripts dbt-bigquery would submit run on local Spark with a
loader in place of the BigQuery connector, reading the rows a DuckDB build of the same window read.
The DuckDB build is the independent engine: every written row is compared with its table, column by
column, after the first build and after an incremental re-run that changes nothing.

The window is the last early-season day of 2021-22 (day 13: placeholder rows) and the first day after
it (computed rows), so both kinds of row are written the way BigQuery must store them.
"""
from __future__ import annotations

import datetime as dt
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from dbt_harness import REPO, DbtProject

sys.path.insert(0, str(REPO / "scripts"))
import spark_run  # noqa: E402

SEASON_START = dt.date(2021, 10, 19)
LAST_EARLY_DAY = SEASON_START + dt.timedelta(days=13)
FIRST_COMPUTED_DAY = LAST_EARLY_DAY + dt.timedelta(days=1)
VARS = f"{{start_date: {LAST_EARLY_DAY}, end_date: {FIRST_COMPUTED_DAY}}}"
# Which relations the derived list must hold at least (it comes from the manifest: a canary that the
# derivation finds the models, both store versions included).
AT_LEAST = {"player_composite_factors", "ml_feature_store_v2", "ml_feature_store_v2_v2"}


@pytest.fixture(scope="module")
def spark_report(tmp_path_factory, demo_source_db):
    """The Spark run of every Python model on the window, compared with DuckDB's run of the same window."""
    work = tmp_path_factory.mktemp("spark")
    (work / "duckdb").mkdir()
    project = DbtProject(work / "duckdb", demo_source_db)

    def duckdb_runs():
        project.dbt("seed", "--quiet")
        project.dbt("run", "--select", "+ml_feature_store_v2", "--vars", VARS)
        first = work / "first_build.duckdb"
        shutil.copy(project.db, first)
        project.dbt("run", "--select", "player_composite_factors", "ml_feature_store_v2",
                    "--vars", VARS)  # the incremental re-run of the Python models (every version)
        return first

    # Spark opens its session and warms up while dbt builds on DuckDB and compiles for BigQuery
    process = spark_run.start_spark(spark_run.ensure_spark_venv(), work / "spark")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first_db = pool.submit(duckdb_runs)
        described = pool.submit(spark_run.compile_scripts, work / "spark" / "scripts", VARS)
        first_db, described = first_db.result(), described.result()
    report = spark_run.run(first_db, VARS, work / "spark", rerun_db=project.db, described=described, process=process)
    report["work"] = work / "spark"
    report["described"] = described
    report["first_db"] = first_db
    return report


@pytest.mark.check
def test_every_script_runs_on_spark_and_writes_where_dbt_bigquery_writes(spark_report):
    assert AT_LEAST <= set(spark_report["described"]), list(spark_report["described"])
    steps = spark_report["spark"]["steps"]
    assert len(steps) == 2 * len(spark_report["described"])
    assert {name: step.get("error") for name, step in steps.items()} == {name: None for name in steps}
    for name in spark_report["described"]:
        relation = spark_report["described"][name]["relation"].replace("`", "")
        assert steps[f"{name}.first_build"]["table"] == relation
        # an incremental run writes dbt's temporary table, which dbt then MERGEs into the target
        assert steps[f"{name}.incremental"]["table"].startswith(relation + "__dbt_tmp")
        options = steps[f"{name}.first_build"]["options"]
        assert (options["mode"], options["writeDisposition"], options["partitionField"], options["partitionType"]) == (
            "overwrite", "WRITE_TRUNCATE", "game_date", "DAY")


def test_output_goes_through_dbt_bigquerys_conversion_with_pandas_on_spark_available(spark_report):
    for name in spark_report["described"]:
        script = (spark_report["work"] / "scripts" / f"{name}.first_build.py").read_text()
        assert "df = pyspark.pandas.frame.DataFrame(df)" in script and "dbt = dbtObj(spark.read.format(\"bigquery\").load)" in script
        step = spark_report["spark"]["steps"][f"{name}.first_build"]
        assert step["pyspark_pandas"] is True  # the runtime's pandas 2 imports pandas-on-Spark, as on Dataproc
        assert step["returned"] == "pyspark.sql.dataframe.DataFrame"


@pytest.mark.parametrize("run", ["first_build", "incremental"])
def test_every_row_and_column_equals_the_duckdb_run(spark_report, run):
    for name in spark_report["described"]:
        comparison = spark_report["comparisons"][f"{name}.{run}"]
        result = comparison["vs_duckdb"]
        with duckdb.connect(str(spark_report["first_db"]), read_only=True) as connection:
            duckdb_rows = connection.execute(
                f"select count(*) from {spark_run.duckdb_table(connection, name)} where game_date between"
                f" '{LAST_EARLY_DAY}' and '{FIRST_COMPUTED_DAY}'").fetchone()[0]
        print(f"{name} {run}: {result['rows_equal']} of {result['rows_compared']} rows equal on {result['columns_compared']} columns")
        assert duckdb_rows > 300, name
        assert (result["rows_compared"], result["rows_equal"], result["only_in_duckdb"], result["only_in_spark"]) == (
            duckdb_rows, duckdb_rows, 0, 0), (name, result)
        # every column but the write moment and the generation timing is compared
        assert result["columns_compared"] == len(set(comparison["table_columns"]) - spark_run.WRITE_TIME_COLUMNS), name


def test_incremental_rerun_writes_the_first_builds_rows_read_through_the_loader(spark_report):
    """The incremental run reads `this` through spark.read.format('bigquery') (the loader) and writes
    every row as the first build wrote it, in every column but the write moment (version 2 recomputes
    its rows; the others reuse stored ones), so dbt's MERGE has nothing to change."""
    for name in spark_report["described"]:
        script = (spark_report["work"] / "scripts" / f"{name}.incremental.py").read_text()
        assert "self.is_incremental = True" in script, name
        result = spark_report["comparisons"][f"{name}.incremental"]["vs_first_build"]
        assert result["rows_compared"] == result["rows_equal"] > 0 and not result["differing_columns"], (name, result)


# Hand-written: the BigQuery types the legacy tables hold (a NUMERIC's scale is what is checked).
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
EXPECTED_TYPES["ml_feature_store_v2_v2"] = EXPECTED_TYPES["ml_feature_store_v2"]  # version 1's columns, 37-long arrays


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_spark_schema_has_the_declared_bigquery_types(spark_report, name):
    comparison = spark_report["comparisons"][f"{name}.first_build"]
    assert comparison["schema_problems"] == []
    assert comparison["null_array_elements"] == {}  # BigQuery refuses a NULL element in a stored ARRAY
    written = {column: bq for column, _, bq, _ in spark_report["spark"]["steps"][f"{name}.first_build"]["schema"]}
    for column, kind in EXPECTED_TYPES[name].items():
        if kind.startswith("NUMERIC("):
            assert written[column].startswith("NUMERIC(") and written[column].split(",")[1] == kind.split(",")[1], column
        else:
            assert written[column] == kind, column


@pytest.mark.parametrize(("relation", "length"), [("ml_feature_store_v2", 25), ("ml_feature_store_v2_v2", 37)])
def test_placeholder_rows_are_written_as_bigquery_stores_them(spark_report, relation, length):
    """The placeholders of the last early-season day carry a NULL `features` array, never an array of
    NULL elements (BigQuery refuses those: the write would fail); the day after has none, and each
    version's arrays hold its own number of features."""
    output = spark_report["work"] / "out" / f"{relation}.first_build" / "rows.parquet"
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select game_date, early_season_flag, count(*), count(features), min(len(features)), max(len(features))"
            f" from read_parquet('{output}/*.parquet') group by all order by all").fetchall()
    (early_day, early, placeholders, with_features, *_), (computed_day, later, computed, computed_with, shortest, longest) = rows
    assert (early_day, early, computed_day, later) == (LAST_EARLY_DAY, True, FIRST_COMPUTED_DAY, False)
    assert placeholders > 200 and with_features == 0
    assert computed > 80 and computed_with == computed and shortest == longest == length


def test_the_comparison_sees_one_changed_value(spark_report, tmp_path):
    """Canary: the same comparison on a copy of the output with one value changed finds that one row."""
    output = spark_report["work"] / "out" / "ml_feature_store_v2.first_build" / "rows.parquet"
    changed = tmp_path / "changed"
    changed.mkdir()
    with duckdb.connect() as connection:
        connection.execute(
            f"copy (select * replace (case when row_number() over (order by early_season_flag, player_lookup) = 1"
            f" then list_transform(features, lambda x: x + 0.001) else features end as features)"
            f" from read_parquet('{output}/*.parquet')) to '{changed}/part.parquet' (format parquet)")
    result = spark_run.compare(spark_report["first_db"], changed, "ml_feature_store_v2", "int_ml_feature_store__inputs")
    assert result["rows_compared"] - result["rows_equal"] == 1 and list(result["differing_columns"]) == ["features"]


def test_schema_check_sees_a_wrong_type():
    """Canary: a FLOAT64 where the table declares NUMERIC(5,2), and a missing column, are reported."""
    step = {"schema": [("a", "double", "FLOAT64", True), ("b", "date", "DATE", True)]}
    problems = spark_run.schema_problems(step, [("a", "NUMERIC(5,2)"), ("b", "DATE"), ("c", "STRING")])
    assert len(problems) == 2 and "a: Spark writes FLOAT64" in problems[1] and "c missing" in problems[0]
