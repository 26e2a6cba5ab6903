"""How the Python models read their inputs and hand back their output, on both engines.

The one source of these helpers. `make inline-helpers` (scripts/inline_helpers.py) copies everything
below the line `# --- inlined ---` into each Python model between its generated markers, because a
model file must be self-contained when dbt-bigquery submits it to Dataproc; a test fails when a
model's copy differs from this file (docs/python_model_contract.md, "Shared helpers").

Engines: DuckDB (dbt-duckdb hands the model a connection; `dbt.ref` returns DuckDB relations) and
Spark on Dataproc Serverless (dbt-bigquery hands it a SparkSession; `dbt.ref` returns Spark
DataFrames read by the BigQuery connector, `spark.read.format("bigquery").load`).

- `to_pandas(relation)`: a ref'd relation as pandas, with the same dtypes on both engines:
  DECIMAL/NUMERIC as float64, DATE as datetime64[us], TIMESTAMP as datetime64[us, UTC] on Spark
  (DuckDB: its own zone), integers and booleans holding NULLs as nullable Int64/boolean, arrays
  as lists or arrays.
- `read_window(session, relation, column, first, last)`: the rows of a table (the model's own,
  `dbt.this`) whose `column` lies between two dates, as pandas through `to_pandas`: DuckDB runs a
  query; Spark reads the table through the BigQuery connector, as dbt's own `ref` does, and filters
  the DataFrame (the connector pushes the filter down). No SQL string reaches a SparkSession: it
  has no BigQuery catalog.
- `to_engine(frame, session, column_types)`: the output with its declared types (`column_types`:
  column -> DuckDB type string, in output order). DuckDB: a relation casting every column. Spark: a
  Spark DataFrame with the matching Spark schema (DECIMAL(p,s) -> decimal(p,s), which the BigQuery
  connector writes as NUMERIC; DATE; TIMESTAMP; ARRAY<FLOAT64>; ARRAY<STRING>), so dbt-bigquery's
  pandas -> pandas-on-Spark -> Spark conversion leaves it as it is: pandas-on-Spark 3.5 refuses
  tz-aware timestamps and would infer every other type from the values.
"""

import pandas as pd  # the models import pandas as pd themselves

# --- inlined ---

import datetime as _datetime
import decimal as _decimal


def is_duckdb(session):
    """A DuckDB connection or cursor, also behind dbt-duckdb's wrappers (DuckDBCursorWrapper,
    RetryableCursor: the session `dbt run` hands a model), which keep the DuckDB cursor in `_cursor`.
    duckdb 2.x defines its classes in the extension module `_duckdb` (hence the stripped `_`)."""
    for _ in range(4):
        if type(session).__module__.split(".")[0].lstrip("_") == "duckdb":
            return True
        session = getattr(session, "_cursor", None)
    return False


def is_spark_frame(relation):
    return type(relation).__module__.startswith("pyspark.sql")


def to_pandas(relation):
    """dbt.ref(...) -> pandas: a DuckDB relation, or a Spark DataFrame (Dataproc). A DuckDB relation
    without nested columns goes through Arrow, three to four times faster than .df() on these wide
    tables, with .df()'s dtypes: DATE as datetime64[us], DECIMAL as float64, integers and booleans
    with NULLs as nullable Int16/Int32/Int64/boolean. Nested columns keep .df(). A Spark DataFrame is
    given the same dtypes (see _spark_to_pandas)."""
    if is_spark_frame(relation):
        return _spark_to_pandas(relation)
    duckdb_relation = type(relation).__module__.lstrip("_").startswith("duckdb") and hasattr(relation, "arrow")
    if duckdb_relation and not any(str(kind).endswith("]") or str(kind).startswith(("STRUCT", "MAP", "UNION"))
                                   for kind in relation.types):
        import pyarrow as pa

        table = relation.arrow()
        table = table.read_all() if hasattr(table, "read_all") else table
        columns = {}
        for name, column in zip(table.column_names, table.columns):
            if pa.types.is_decimal(column.type):
                column = column.cast(pa.float64())
            elif pa.types.is_date(column.type):
                column = column.cast(pa.timestamp("us"))
            elif pa.types.is_integer(column.type) and column.null_count:
                columns[name] = pd.array(column.to_pylist(), dtype=str(column.type).replace("int", "Int"))
                continue
            elif pa.types.is_boolean(column.type) and column.null_count:
                columns[name] = pd.array(column.to_pylist(), dtype="boolean")
                continue
            columns[name] = column.to_pandas()
        return pd.DataFrame(columns)
    if hasattr(relation, "df"):
        return relation.df()
    raise TypeError(f"cannot convert {type(relation).__name__} to pandas")


def _spark_to_pandas(frame):
    """A Spark DataFrame as pandas with the DuckDB path's dtypes: NUMERIC (decimal) as float64 (cast
    in Spark), DATE as datetime64[us], TIMESTAMP as datetime64[us, UTC] (Spark hands naive times in
    the session zone, UTC on Dataproc), integers and booleans with NULLs as Int64 / boolean."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = frame.schema.fields
    frame = frame.select([F.col(f.name).cast("double").alias(f.name) if isinstance(f.dataType, T.DecimalType)
                          else F.col(f.name) for f in fields])
    result = frame.toPandas()
    for field in fields:
        kind, values = field.dataType, result[field.name]
        if isinstance(kind, T.DateType):
            result[field.name] = pd.to_datetime(values).astype("datetime64[us]")
        elif isinstance(kind, T.TimestampType):
            stamps = pd.to_datetime(values)
            stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
            result[field.name] = stamps.astype("datetime64[us, UTC]")
        elif isinstance(kind, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)) and values.isna().any():
            result[field.name] = values.astype("Int64")
        elif isinstance(kind, T.BooleanType) and values.isna().any():
            result[field.name] = values.astype("boolean")
    return result


def read_window(session, relation, column, first, last):
    """Rows of `relation` (a table, e.g. dbt.this) whose DATE `column` is between `first` and `last`
    (dates), as pandas. DuckDB: a query. Spark: the BigQuery connector's read, as dbt's ref()."""
    first, last = _as_date(first), _as_date(last)
    if is_duckdb(session):
        return to_pandas(session.sql(
            f"select * from {relation} where {column} between date '{first.isoformat()}' and date '{last.isoformat()}'"))
    from pyspark.sql import functions as F

    table = session.read.format("bigquery").load(str(relation))
    return to_pandas(table.where(F.col(column).between(F.lit(first), F.lit(last))))


def _as_date(value):
    return value if type(value) is _datetime.date else pd.Timestamp(value).date()


# DuckDB type string of an output column -> Spark SQL type of the DataFrame handed to dbt-bigquery.
_SPARK_TYPES = {"varchar": "string", "bigint": "bigint", "boolean": "boolean", "double": "double", "date": "date",
                "timestamp with time zone": "timestamp", "double[]": "array<double>", "varchar[]": "array<string>"}


def spark_type(kind):
    """Spark SQL type of a DuckDB type string ('decimal(5,2)' -> 'decimal(5,2)')."""
    if kind.startswith("decimal("):
        return kind.replace(" ", "")
    if kind not in _SPARK_TYPES:
        raise ValueError(f"to_engine: no Spark type for the declared type {kind!r}")
    return _SPARK_TYPES[kind]


def _python_values(values, kind):
    """The Python objects Spark's createDataFrame takes for one declared column type (NULL -> None)."""
    objects = values.to_numpy(dtype=object)
    missing = values.isna().to_numpy(dtype=bool)
    if kind == "date":
        convert = lambda v: pd.Timestamp(v).date()  # noqa: E731
    elif kind.startswith("timestamp"):
        convert = lambda v: (pd.Timestamp(v).tz_localize("UTC") if pd.Timestamp(v).tzinfo is None  # noqa: E731
                             else pd.Timestamp(v).tz_convert("UTC")).to_pydatetime()
    elif kind.startswith("decimal("):
        quantum = _decimal.Decimal(1).scaleb(-int(kind.rstrip(")").split(",")[1]))
        convert = lambda v: (v if isinstance(v, _decimal.Decimal) else _decimal.Decimal(repr(float(v)))).quantize(  # noqa: E731
            quantum, rounding=_decimal.ROUND_HALF_UP)
    elif kind == "bigint":
        convert = int
    elif kind == "boolean":
        convert = bool
    elif kind == "double":
        convert = float
    elif kind == "double[]":
        convert = lambda v: [None if x is None or x != x else float(x) for x in v]  # noqa: E731
    elif kind == "varchar[]":
        convert = lambda v: [None if x is None else str(x) for x in v]  # noqa: E731
    else:
        convert = str
    return [None if gone else convert(value) for value, gone in zip(objects, missing)]


def to_engine(frame, session, column_types):
    """Return the output with its declared types. DuckDB: a relation that casts every column to its
    declared type (dates stay DATE, NUMERIC(p,s) stay DECIMAL, arrays stay lists). Spark: a Spark
    DataFrame with the matching schema (decimal(p,s) values quantized half up to s places)."""
    frame = frame[list(column_types)]
    if is_duckdb(session):
        view = f"to_engine_{id(frame)}"
        session.register(view, frame)
        casts = ", ".join(f'cast("{name}" as {kind}) as "{name}"' for name, kind in column_types.items())
        return session.sql(f"select {casts} from {view}")
    schema = ", ".join(f"`{name}` {spark_type(kind)}" for name, kind in column_types.items())
    columns = [_python_values(frame[name], kind) for name, kind in column_types.items()]
    return session.createDataFrame(list(zip(*columns)), schema=schema)
