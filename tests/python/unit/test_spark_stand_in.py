"""The checks of the Spark stand-in (scripts/local_dataproc.py) and of the emulator run's Python steps
(scripts/bigquery_emulator.py), on tiny hand-made tables: no Spark, no emulator."""
from __future__ import annotations

import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dbt_harness import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bigquery_emulator  # noqa: E402
import local_dataproc  # noqa: E402

SCHEMA = [("player_lookup", "string", "STRING", True), ("features", "array<double>", "ARRAY<FLOAT64>", True),
          ("feature_sources", "array<string>", "ARRAY<STRING>", True)]


def written(tmp_path, rows: list[dict]):
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
        ("player_lookup", pa.string()), ("features", pa.list_(pa.float64())), ("feature_sources", pa.list_(pa.string()))])), path)
    return path


def test_the_load_refuses_a_null_element_in_an_array_before_touching_the_table(tmp_path):
    """BigQuery refuses a NULL element in a stored ARRAY; the stand-in's load does too, naming the
    table, the column and the rows (the client is never called: None would fail on use)."""
    path = written(tmp_path, [
        {"player_lookup": "a", "features": [1.0, None], "feature_sources": ["phase4", "default"]},
        {"player_lookup": "b", "features": [None, None], "feature_sources": ["phase4", "phase3"]},
        {"player_lookup": "c", "features": None, "feature_sources": None},  # a NULL array is stored (as an empty one)
    ])
    with pytest.raises(ValueError, match=r"project\.dataset\.store holds them in features \(2 rows\)$"):
        local_dataproc.load_written(None, "project.dataset.store", {"schema": SCHEMA, "options": {}}, path)


def test_arrays_without_null_elements_pass_the_refusal():
    local_dataproc.refuse_null_array_elements("t", [(n, bq) for n, _, bq, _ in SCHEMA], [
        {"player_lookup": "a", "features": [1.0, 2.0], "feature_sources": ["phase4", "phase3"]},
        {"player_lookup": None, "features": None, "feature_sources": []}])


def test_type_check_sees_a_wrong_type_a_lost_scale_and_a_missing_column():
    """Canary of the emulator run's type check: the declared types against the written DataFrame's
    (NUMERIC with its scale) and the stored table's (plain NUMERIC)."""
    expected = {"score": "NUMERIC(5,2)", "game_date": "DATE", "features": "ARRAY<FLOAT64>", "flag": "BOOL"}
    stored = {"score": "NUMERIC", "game_date": "DATE", "features": "ARRAY<FLOAT64>", "flag": "BOOL"}
    right = {"score": "NUMERIC(38,2)", "game_date": "DATE", "features": "ARRAY<FLOAT64>", "flag": "BOOL"}
    assert bigquery_emulator.type_problems(expected, right, stored) == []
    wrong = {**right, "score": "NUMERIC(38,9)", "game_date": "TIMESTAMP"}
    del wrong["flag"]
    problems = bigquery_emulator.type_problems(expected, wrong, stored)
    assert [p.split(":")[0].split(" ")[0] for p in problems] == ["score", "game_date", "flag"], problems


def test_parity_comparison_sees_one_changed_value_and_rows_on_one_side_only():
    """Canary of the Python models' parity: one changed array element is one differing row of that
    column; the write-time columns are not compared; an empty array equals a NULL one (BigQuery
    stores a NULL ARRAY as an empty one), a zero written -0.0 in JSON text equals 0.0 (but -0.05
    is not 0.05); a row missing on either side is counted."""
    connection = duckdb.connect()
    connection.execute(
        "create table twin as select * from (values"
        " ('a', date '2021-11-01', null::double[], 1.50::decimal(5,2), '{\"x\": -0.0}', timestamp '2021-01-01'),"
        " ('b', date '2021-11-02', [1.0, 2.5], 2.25::decimal(5,2), '{\"x\": -0.05}', timestamp '2021-01-01'),"
        " ('c', date '2021-11-02', [3.0, 4.0], 3.00::decimal(5,2), '{\"x\": -10.0}', timestamp '2021-01-01'))"
        " t(player_lookup, game_date, features, score, context_json, processed_at)")
    connection.execute(
        "create table emulator as select player_lookup, game_date, coalesce(features, []) as features,"
        " score::decimal(38,9) as score, replace(context_json, '-0.0}', '0.0}') as context_json, now() as processed_at"
        " from twin")
    keys = ["player_lookup", "game_date"]
    same = bigquery_emulator.compare_rows(connection, "emulator", "twin", keys)
    assert (same["rows_compared"], same["rows_equal"], same["columns_compared"], same["differing_columns"]) == (3, 3, 3, {})

    connection.execute("update emulator set features = [1.0, 2.5000001] where player_lookup = 'b'")
    connection.execute("insert into emulator values ('d', date '2021-11-02', [], 1, '{}', now())")
    changed = bigquery_emulator.compare_rows(connection, "emulator", "twin", keys)
    assert (changed["rows_compared"], changed["rows_equal"], changed["only_left"], changed["only_right"]) == (3, 2, 1, 0)
    assert changed["differing_columns"] == {"features": 1} and "'b'" in changed["sample"][0]
    assert bigquery_emulator.compare_rows(connection, "twin", "emulator", keys)["only_right"] == 1
    connection.execute("""update emulator set context_json = '{"x": 0.05}' where player_lookup = 'b'""")
    assert bigquery_emulator.compare_rows(connection, "emulator", "twin", keys)["differing_columns"] == {
        "features": 1, "context_json": 1}

