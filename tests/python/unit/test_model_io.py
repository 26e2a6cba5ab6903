"""The shared I/O helpers of the Python models (python_models/model_io.py) and their inlined copies."""
from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dbt_harness import REPO

sys.path.insert(0, str(REPO / "scripts"))
import inline_helpers  # noqa: E402

spec = importlib.util.spec_from_file_location("model_io", REPO / "python_models" / "model_io.py")
io = importlib.util.module_from_spec(spec)
spec.loader.exec_module(io)


# --- one source, inlined copies ----------------------------------------------------------------


def test_every_python_model_holds_the_current_copy():
    models = inline_helpers.model_files()
    assert {path.name for path in models} == {"player_composite_factors.py", "ml_feature_store_v2.py", "ml_feature_store_v2_v2.py"}
    assert inline_helpers.stale() == []


def test_a_changed_copy_or_missing_markers_are_reported(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    helpers = inline_helpers.helper_text()
    fresh = inline_helpers.inlined(f"import pandas as pd\n{inline_helpers.BEGIN}{inline_helpers.END}\ndef model(dbt, session):\n    pass\n", helpers)
    (models / "good.py").write_text(fresh)
    (models / "edited.py").write_text(fresh.replace("def to_engine(", "def to_engine_renamed("))
    (models / "unmarked.py").write_text("def model(dbt, session):\n    pass\n")
    problems = inline_helpers.stale(models)
    assert len(problems) == 2
    assert "edited.py: copy differs" in problems[0] and "unmarked.py" in problems[1]
    # regenerating restores the copy, and is idempotent
    again = inline_helpers.inlined((models / "edited.py").read_text(), helpers)
    assert again == fresh and inline_helpers.inlined(again, helpers) == again


def test_the_models_use_the_shared_helpers_not_their_own():
    for path in inline_helpers.model_files():
        text = path.read_text()
        outside = text.split(inline_helpers.BEGIN)[0] + text.split(inline_helpers.END)[1]
        for name in ("to_pandas", "is_duckdb", "to_engine", "read_window"):
            assert f"def {name}(" not in outside, (path.name, name)
        assert "session.sql(" not in outside and "read_gbq" not in outside, path.name  # reads go through read_window


# --- Spark output: values and schema handed to createDataFrame --------------------------------


class RecordingSpark:
    """Stand-in for SparkSession.createDataFrame(rows, schema): records what the model hands Spark."""

    def createDataFrame(self, rows, schema):  # noqa: N802 - Spark's name
        self.rows, self.schema = rows, schema
        return self


def test_to_engine_hands_spark_python_values_and_the_declared_schema():
    frame = pd.DataFrame({
        "d": pd.to_datetime(["2021-11-20", None]),
        "x": [1.05, np.nan],
        "ts": pd.Series([pd.Timestamp("2021-11-20 10:00", tz="UTC"), pd.NaT], dtype="datetime64[us, UTC]"),
        "a": [np.array([1.5, np.nan]), None],
        "s": [["phase4", "default"], None],
        "n": pd.array([3, None], dtype="Int64"),
        "b": [True, False],
    })
    types = {"d": "date", "x": "decimal(5,2)", "ts": "timestamp with time zone", "a": "double[]",
             "s": "varchar[]", "n": "bigint", "b": "boolean"}
    spark = io.to_engine(frame, RecordingSpark(), types)
    assert spark.schema == ("`d` date, `x` decimal(5,2), `ts` timestamp, `a` array<double>, `s` array<string>,"
                            " `n` bigint, `b` boolean")
    first, second = spark.rows
    assert first == (dt.date(2021, 11, 20), Decimal("1.05"), dt.datetime(2021, 11, 20, 10, tzinfo=dt.timezone.utc),
                     [1.5, None], ["phase4", "default"], 3, True)
    assert str(first[1]) == "1.05"  # quantized to the column's scale
    assert second == (None, None, None, None, None, None, False)


def test_decimal_columns_round_half_up_at_their_scale_and_unknown_types_fail():
    assert io._python_values(pd.Series([0.125, -2.5, Decimal("1.005")]), "decimal(4,2)") == [
        Decimal("0.13"), Decimal("-2.50"), Decimal("1.01")]
    with pytest.raises(ValueError, match="no Spark type"):
        io.spark_type("interval")


def test_read_window_on_duckdb_reads_the_dates_between():
    import duckdb

    con = duckdb.connect()
    con.execute("create table t as select * from (values (date '2021-11-19', 1), (date '2021-11-20', 2),"
                " (date '2021-11-22', 3)) v(game_date, n)")
    rows = io.read_window(con, "t", "game_date", pd.Timestamp("2021-11-20"), dt.date(2021, 11, 22))
    assert rows["n"].tolist() == [2, 3]
