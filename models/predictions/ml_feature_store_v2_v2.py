"""ml_feature_store_v2, version 2 (`v2_37features`): version 1's 25 features, then 12 more.

The story of the table, top-down (docs/feature_versions.md):

1. Inputs: version 1's stored rows of the run window (`ref('ml_feature_store_v2', v=1)`, built first
   in the same command) and `int_ml_feature_store_v2__inputs` (SQL): per player and date, the prop
   lines of his game before tip-off and his box-score history before the date. Features 0-24 and
   their labels are version 1's stored values, read, not recomputed: equal by construction, and
   version 1's file (hence its code_version, fingerprints and hashes) is untouched.
2. Names and order come from the `feature_versions` seed (row `v2_37features`): its first 25 names
   must be version 1's stored `feature_names`, the other 12 the features this file computes, in
   order; the model stops naming the difference otherwise.
3. New features (spec 11): 25-28 market (`market`, or `missing` without a line before tip-off),
   29-32 history (`phase3`; 29 falls back to the season average, `calculated`, else `default`;
   31-32 `default` without a played game), 33-36 calculated (`calculated`).
4. Quality: the mean weight of the features that are not `missing` (phase4 100, phase3 75,
   calculated 100, market 100, default 40), capped at 69 with a default among the required
   features and at 49 with five or more; tiers and is_training_ready as version 1.
5. BigQuery refuses a NULL element in a stored ARRAY: a missing market feature is stored as 0.0 in
   `features` and labelled `missing` in `feature_sources` (read it as NULL).
6. Every row of the window is computed (no fingerprint skip: the work is one vectorised pass over
   prepared rows); the merge still writes only rows whose data_hash changed.
"""

import time

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------

FEATURE_VERSION = "v2_37features"
BASE_VERSION = "v1_baseline_25"
BASE_COUNT = 25

# The features this file computes, in their order after version 1's 25 (the seed must agree).
NEW_FEATURES = [
    "prop_line_current",  # 25
    "prop_line_opening",  # 26
    "prop_line_move",  # 27
    "has_prop_line",  # 28
    "avg_points_vs_opponent",  # 29
    "games_vs_opponent",  # 30
    "minutes_avg_last_10",  # 31
    "ppm_avg_last_10",  # 32
    "dnp_rate",  # 33
    "pts_slope_10g",  # 34
    "pts_vs_season_zscore",  # 35
    "breakout_flag",  # 36
]
MARKET_FEATURES = NEW_FEATURES[:4]

# Defaults of the new features that can lack every tier (v1's points default, 10, over 20 minutes).
DEFAULTS = {"avg_points_vs_opponent": 10.0, "minutes_avg_last_10": 20.0, "ppm_avg_last_10": 0.5}
# A missing market feature's stored value: BigQuery cannot store a NULL array element.
MISSING_VALUE = 0.0

MARKET, MISSING, DEFAULT = "market", "missing", "default"
WEIGHTS = {"phase4": 100.0, "phase3": 75.0, "calculated": 100.0, "default": 40.0, "market": 100.0}
UNKNOWN_WEIGHT = 40.0
# Quality caps: at least one default among the required features, five or more.
CAP_ONE_DEFAULT, CAP_FIVE_DEFAULTS, MANY_DEFAULTS = 69.0, 49.0, 5
TRAINING_READY_MIN_QUALITY = 85.0
KEY = ["player_lookup", "game_date"]
HISTORY_GAMES = 10

# Output columns, in order, with their DuckDB types: version 1's columns (a unit test proves it).
SOURCES = ("source_daily_cache", "source_composite", "source_shot_zones", "source_team_defense")
OUTPUT_TYPES = {
    "player_lookup": "varchar",
    "universal_player_id": "varchar",
    "game_date": "date",
    "game_id": "varchar",
    "features": "double[]",
    "feature_names": "varchar[]",
    "feature_count": "bigint",
    "feature_version": "varchar",
    "feature_generation_time_ms": "bigint",
    "feature_quality_score": "decimal(5,2)",
    "quality_tier": "varchar",
    "opponent_team_abbr": "varchar",
    "is_home": "boolean",
    "days_rest": "bigint",
    "data_source": "varchar",
}
for _source in SOURCES:
    OUTPUT_TYPES[f"{_source}_last_updated"] = "timestamp with time zone"
    OUTPUT_TYPES[f"{_source}_rows_found"] = "bigint"
    OUTPUT_TYPES[f"{_source}_completeness_pct"] = "decimal(5,2)"
    OUTPUT_TYPES[f"{_source}_hash"] = "varchar"
OUTPUT_TYPES.update(
    {
        "feature_sources": "varchar[]",
        "default_feature_count": "bigint",
        "is_training_ready": "boolean",
        "early_season_flag": "boolean",
        "insufficient_data_reason": "varchar",
        "expected_games_count": "bigint",
        "actual_games_count": "bigint",
        "completeness_percentage": "double",
        "missing_games_count": "bigint",
        "is_production_ready": "boolean",
        "data_quality_issues": "varchar[]",
        "season_boundary_detected": "boolean",
        "backfill_bootstrap_mode": "boolean",
        "processing_decision_reason": "varchar",
        "input_fingerprint": "varchar",
        "code_version": "varchar",
        "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    }
)
# Columns computed here; every other output column is version 1's stored value.
COMPUTED = {
    "features", "feature_names", "feature_count", "feature_version", "feature_generation_time_ms",
    "feature_quality_score", "quality_tier", "data_source", "feature_sources", "default_feature_count",
    "is_training_ready", "input_fingerprint", "code_version", "created_at", "updated_at",
}  # fmt: skip

# >>> shared helpers: generated from python_models/model_io.py by `make inline-helpers` (edit that file, not this copy)

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

# <<< shared helpers (python_models/model_io.py)


# ---------------------------------------------------------------------------------------------------
# Input normalisation
# ---------------------------------------------------------------------------------------------------


def _floats(values):
    """Any array-like -> float64 numpy array, NULL (None, NaN, pd.NA) as NaN (keeps 2-D shape)."""
    if isinstance(values, pd.DataFrame):
        return values.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype("float64")
    return pd.to_numeric(pd.Series(list(np.atleast_1d(np.asarray(values, dtype=object)))), errors="coerce").astype(
        "float64").to_numpy()


def _column(frame, name):
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _history(frame, prefix):
    """The n x 10 matrix of `<prefix>_1..10` (newest game first), NaN where absent."""
    return _floats(pd.DataFrame({rank: _column(frame, f"{prefix}_{rank}") for rank in range(1, HISTORY_GAMES + 1)},
                                index=frame.index)).reshape(len(frame), HISTORY_GAMES)


def decimal_value(values):
    """The decimal value a float formula stands for (binary noise below 9 places removed)."""
    return np.round(np.asarray(values, dtype="float64"), 9)


# ---------------------------------------------------------------------------------------------------
# New features: pure functions over numpy arrays (tests/python/unit/test_ml_feature_store_v2_v2features.py)
# ---------------------------------------------------------------------------------------------------


def market_features(current, opening):
    """Features 25-28 from the chosen book's latest and earliest line before tip-off: (values n x 4,
    labels n x 4). Without a current line every market feature is `missing`: 25-27 stored as
    MISSING_VALUE, has_prop_line 0."""
    current, opening = _floats(current), _floats(opening)
    has_line = ~np.isnan(current)
    opening = np.where(np.isnan(opening), current, opening)
    values = np.column_stack([
        np.where(has_line, current, MISSING_VALUE),
        np.where(has_line, opening, MISSING_VALUE),
        np.where(has_line, decimal_value(current - opening), MISSING_VALUE),
        has_line.astype("float64"),
    ]).reshape(len(current), 4)
    labels = np.where(has_line[:, None], MARKET, MISSING).astype(object).repeat(4, axis=1)
    return values, labels


def avg_points_vs_opponent(points_avg_vs_opponent, games_vs_opponent, points_avg_season):
    """Feature 29: mean points of his played games against the opponent in the 365 days before D
    (`phase3`); without one, his season average (`calculated`); else the default."""
    versus, games, season = _floats(points_avg_vs_opponent), _floats(games_vs_opponent), _floats(points_avg_season)
    has_versus = (np.nan_to_num(games) > 0) & ~np.isnan(versus)
    has_season = ~np.isnan(season)
    values = np.where(has_versus, versus, np.where(has_season, season, DEFAULTS["avg_points_vs_opponent"]))
    labels = np.where(has_versus, "phase3", np.where(has_season, "calculated", DEFAULT)).astype(object)
    return decimal_value(values), labels


def minutes_avg_last_10(minutes):
    """Feature 31: mean minutes over his last 10 played games (n x 10, NaN where no game); default
    without one (`phase3` / `default`)."""
    minutes = _floats(minutes)
    known = ~np.isnan(minutes)
    count = known.sum(axis=1)
    mean = np.nansum(minutes, axis=1) / np.maximum(count, 1)
    return (decimal_value(np.where(count > 0, mean, DEFAULTS["minutes_avg_last_10"])),
            np.where(count > 0, "phase3", DEFAULT).astype(object))


def ppm_avg_last_10(points, minutes):
    """Feature 32: mean of points / minutes over the same games (a game without minutes, or 0, has
    no rate and is left out); default without one."""
    points, minutes = _floats(points), _floats(minutes)
    usable = ~np.isnan(minutes) & (minutes > 0)
    rates = np.where(usable, np.nan_to_num(points) / np.where(usable, minutes, 1.0), 0.0)
    count = usable.sum(axis=1)
    mean = rates.sum(axis=1) / np.maximum(count, 1)
    return (decimal_value(np.where(count > 0, mean, DEFAULTS["ppm_avg_last_10"])),
            np.where(count > 0, "phase3", DEFAULT).astype(object))


def dnp_rate(rows_last_10, dnp_rows_last_10):
    """Feature 33: share of not-played rows among his last 10 box-score rows; 0 with fewer than 3 rows."""
    rows, dnps = np.nan_to_num(_floats(rows_last_10)), np.nan_to_num(_floats(dnp_rows_last_10))
    usable = rows >= 3
    return decimal_value(np.where(usable, dnps / np.where(usable, rows, 1.0), 0.0))


def _played_points(points):
    """(points n x 10 newest first, NULL points of a played game as 0; games played per row)."""
    points = _floats(points)
    played = ~np.isnan(points)
    return np.nan_to_num(points), played.sum(axis=1)


def pts_slope_10g(points, games_played):
    """Feature 34: least-squares slope of points against game order (oldest first) over his last 10
    played games; 0 below 3 games. points: n x 10, newest first; games_played: games per row."""
    pts = np.nan_to_num(_floats(points))
    games = np.nan_to_num(_floats(games_played)).astype(int)
    slopes = np.zeros(len(games))
    for count in np.unique(games[games >= 3]):
        rows = games == count
        y = pts[rows, :count][:, ::-1]  # oldest first
        x = np.arange(count, dtype="float64") - (count - 1) / 2.0
        slopes[rows] = (y * x).sum(axis=1) / (x * x).sum()
    return decimal_value(slopes)


def _form(points, games_played, points_avg_season):
    """(last-5 mean - season mean, sample std of the last 10, usable): usable needs 5 games and a season mean."""
    pts = np.nan_to_num(_floats(points))
    games = np.nan_to_num(_floats(games_played)).astype(int)
    season = _floats(points_avg_season)
    last_5 = pts[:, :5].mean(axis=1)
    std = np.zeros(len(games))
    for count in np.unique(games[games >= 2]):
        rows = games == count
        std[rows] = pts[rows, :count].std(axis=1, ddof=1)
    usable = (games >= 5) & ~np.isnan(season)
    return decimal_value(np.where(usable, last_5 - np.nan_to_num(season), 0.0)), decimal_value(std), usable


def pts_vs_season_zscore(points, games_played, points_avg_season):
    """Feature 35: (last-5 mean - season mean) / std of the last 10, clipped to [-3, 3]; 0 when that
    std is 0, below 5 games or without a season mean."""
    diff, std, usable = _form(points, games_played, points_avg_season)
    usable = usable & (std > 0)
    return decimal_value(np.where(usable, np.clip(diff / np.where(usable, std, 1.0), -3.0, 3.0), 0.0))


def breakout_flag(points, games_played, points_avg_season):
    """Feature 36: 1 when the last-5 mean exceeds the season mean by more than 1.5 std of the last 10."""
    diff, std, usable = _form(points, games_played, points_avg_season)
    return np.where(usable & (diff > decimal_value(1.5 * std)), 1.0, 0.0)


def new_features(inputs):
    """Features 25-36 of the prepared rows: (values n x 12, labels n x 12) in NEW_FEATURES order."""
    n = len(inputs)
    points, minutes = _history(inputs, "points"), _history(inputs, "minutes")
    games = np.nan_to_num(_floats(_column(inputs, "played_games_last_10")))
    season = _floats(_column(inputs, "points_avg_season"))
    market, market_labels = market_features(_column(inputs, "prop_line_current"), _column(inputs, "prop_line_opening"))
    versus, versus_labels = avg_points_vs_opponent(
        _column(inputs, "points_avg_vs_opponent"), _column(inputs, "games_vs_opponent"), season)
    minutes_avg, minutes_labels = minutes_avg_last_10(minutes)
    ppm, ppm_labels = ppm_avg_last_10(points, minutes)
    phase3, calculated = np.full(n, "phase3", dtype=object), np.full(n, "calculated", dtype=object)
    columns = [
        (versus, versus_labels),
        (np.nan_to_num(_floats(_column(inputs, "games_vs_opponent"))), phase3),
        (minutes_avg, minutes_labels),
        (ppm, ppm_labels),
        (dnp_rate(_column(inputs, "rows_last_10"), _column(inputs, "dnp_rows_last_10")), calculated),
        (pts_slope_10g(points, games), calculated),
        (pts_vs_season_zscore(points, games, season), calculated),
        (breakout_flag(points, games, season), calculated),
    ]
    values = np.column_stack([market] + [value for value, _ in columns]).reshape(n, len(NEW_FEATURES))
    labels = np.column_stack([market_labels] + [label for _, label in columns]).reshape(n, len(NEW_FEATURES))
    if np.isnan(values).any():
        raise ValueError("ml_feature_store_v2 v2: a new feature is NaN; every NULL input must fall back")
    return values, labels


# ---------------------------------------------------------------------------------------------------
# Quality (spec 11): missing market features left out, defaults cap the score
# ---------------------------------------------------------------------------------------------------


def round_half_away(values, scale):
    """Round half away from zero to `scale` decimals at the decimal value (1.015 -> 1.02)."""
    scaled = np.round(np.asarray(values, dtype="float64") * 10.0 ** scale, 9 - scale)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / 10.0 ** scale


def quality_score(labels):
    """labels n x k -> (score, default count): mean weight of the labels that are not `missing`,
    2 dp, capped at 69 with a default and at 49 with five or more."""
    labels = np.asarray(labels, dtype=object).reshape(len(labels), -1)
    weights = np.full(labels.shape, float(UNKNOWN_WEIGHT))
    for label, weight in WEIGHTS.items():  # one comparison per known label, not one call per element
        weights[labels == label] = weight
    counted = labels != MISSING
    defaults = (labels == DEFAULT).sum(axis=1)
    mean = (weights * counted).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)
    score = round_half_away(mean, 2)
    score = np.where(defaults >= MANY_DEFAULTS, np.minimum(score, CAP_FIVE_DEFAULTS),
                     np.where(defaults >= 1, np.minimum(score, CAP_ONE_DEFAULT), score))
    return score, defaults.astype("int64")


def quality_tier(scores):
    """gold >= 95, silver >= 75, bronze >= 50, poor >= 25, else unusable (version 1's tiers)."""
    score = np.asarray(scores, dtype="float64")
    return np.select([score >= 95, score >= 75, score >= 50, score >= 25],
                     ["gold", "silver", "bronze", "poor"], "unusable").astype(object)


def data_source(labels):
    """Version 1's rule over the labels that are not market ones: phase4 (>= 90 % Phase 4),
    phase4_partial (>= 50 %), phase3 (>= 50 % Phase 3), else mixed."""
    labels = np.asarray(labels, dtype=object).reshape(len(labels), -1)
    required = ~np.isin(labels, [MARKET, MISSING])
    total = np.maximum(required.sum(axis=1), 1)
    phase4 = (labels == "phase4").sum(axis=1) / total
    phase3 = (labels == "phase3").sum(axis=1) / total
    return np.select([phase4 >= 0.90, phase4 >= 0.50, phase3 >= 0.50],
                     ["phase4", "phase4_partial", "phase3"], "mixed").astype(object)


# ---------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------


def _stored_lists(values, width, as_float):
    """Stored arrays of version 1 (ndarrays, lists or MaskedArrays) -> n x width matrix. The rows are
    stacked in one call; a MaskedArray (NULL elements) has its masked elements as NaN."""
    rows = [np.ma.filled(value.astype("float64"), np.nan) if isinstance(value, np.ma.MaskedArray) else value
            for value in values]
    if not rows:
        return np.empty((0, width), dtype="float64" if as_float else object)
    matrix = np.vstack(rows).astype("float64" if as_float else object)
    return matrix.reshape(len(rows), width)


def names_from_seed(seed, base_names):
    """Version 2's names from the feature_versions seed, checked against version 1's stored names and
    the features this file computes (ValueError naming the difference)."""
    row = seed[seed["feature_version"] == FEATURE_VERSION]
    if len(row) != 1:
        raise ValueError(f"ml_feature_store_v2 v2: the feature_versions seed has {len(row)} rows for "
                         f"{FEATURE_VERSION}; run dbt seed (it must hold exactly one)")
    names = str(row["feature_names"].iloc[0]).split("|")
    if names[:BASE_COUNT] != list(base_names) or names[BASE_COUNT:] != NEW_FEATURES:
        raise ValueError(f"ml_feature_store_v2 v2: the seed's names for {FEATURE_VERSION} are {names}; version 1 "
                         f"stores {list(base_names)} and this model computes {NEW_FEATURES} after them")
    return names


def build_rows(base, inputs, names, min_quality=TRAINING_READY_MIN_QUALITY):
    """Version 2's rows: `base` = version 1's stored rows of the window, `inputs` = the prepared rows
    (one per key); every output column, sorted by key."""
    started = time.perf_counter()
    base = base.assign(game_date=pd.to_datetime(base["game_date"]).dt.date)
    inputs = inputs.assign(game_date=pd.to_datetime(inputs["game_date"]).dt.date)
    rows = base.merge(inputs, on=KEY, how="inner", suffixes=("", "__input"))
    if len(rows) != len(inputs) or len(rows) != len(base):
        lost = inputs[KEY].merge(base[KEY], on=KEY, how="outer", indicator=True)
        lost = lost[lost["_merge"] != "both"].head(3).to_dict("records")
        raise ValueError(f"ml_feature_store_v2 v2: version 1 and the v2 inputs hold different players for the window "
                         f"(e.g. {lost}); run: dbt build --select +ml_feature_store_v2 with the same vars")
    rows = rows.sort_values(KEY, kind="stable").reset_index(drop=True)
    early = rows["early_season_flag"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    output = rows[[name for name in OUTPUT_TYPES if name not in COMPUTED]].copy()
    n = len(rows)
    features = np.empty(n, dtype=object)
    sources = np.empty(n, dtype=object)
    scores, defaults = np.zeros(n), np.full(n, pd.NA, dtype=object)
    tiers, data_sources = np.full(n, None, dtype=object), np.full(n, "early_season", dtype=object)
    computed = np.flatnonzero(~early)
    if computed.size:
        part = rows.iloc[computed]
        base_values = _stored_lists(part["features"], BASE_COUNT, True)
        base_labels = _stored_lists(part["feature_sources"], BASE_COUNT, False)
        values, labels = new_features(part)
        values, labels = np.hstack([base_values, values]), np.hstack([base_labels, labels])
        score, count = quality_score(labels)
        features[computed] = list(values)
        sources[computed] = [list(row) for row in labels]
        scores[computed], defaults[computed] = score, count
        tiers[computed], data_sources[computed] = quality_tier(score), data_source(labels)
    output["features"] = features
    output["feature_names"] = pd.Series([list(names)] * n, dtype=object)
    output["feature_count"] = len(names)
    output["feature_version"] = FEATURE_VERSION
    output["feature_quality_score"] = scores
    output["quality_tier"] = tiers
    output["data_source"] = data_sources
    output["feature_sources"] = sources
    output["default_feature_count"] = pd.array(defaults, dtype="Int64")
    output["is_training_ready"] = ~early & (pd.Series(defaults).fillna(-1).to_numpy() == 0) & (scores >= float(min_quality))
    output["input_fingerprint"] = rows["input_fingerprint__input"] if "input_fingerprint__input" in rows else None
    output["code_version"] = rows["code_version__input"] if "code_version__input" in rows else None
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    output["feature_generation_time_ms"] = pd.array(
        np.where(early, None, int(elapsed_ms / max(computed.size, 1))), dtype="Int64")
    now = pd.Timestamp.now(tz="UTC")
    output["created_at"] = pd.Series(now, index=output.index, dtype="datetime64[us, UTC]")
    output["updated_at"] = pd.Series(now, index=output.index, dtype="datetime64[us, UTC]")
    return output[list(OUTPUT_TYPES)]


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


def rows_between(relation, column, first, last):
    """The rows of a dbt.ref(...) relation (DuckDB relation or Spark DataFrame) whose DATE `column`
    lies between `first` and `last`, filtered where the engine reads them."""
    first, last = pd.Timestamp(first).date(), pd.Timestamp(last).date()
    if is_spark_frame(relation):
        from pyspark.sql import functions as F

        return relation.where(F.col(column).between(F.lit(first), F.lit(last)))
    return relation.filter(f"{column} between date '{first.isoformat()}' and date '{last.isoformat()}'")


def without(relation, column):
    """A dbt.ref(...) relation (DuckDB relation or Spark DataFrame) without one of its columns."""
    if is_spark_frame(relation):
        return relation.drop(column)
    return relation.project(", ".join(f'"{name}"' for name in relation.columns if name != column))


def training_ready_min_quality(dbt):
    try:
        value = dbt.config.get("training_ready_min_quality")  # literal call: dbt finds the key by parsing
    except AttributeError:
        value = None
    return TRAINING_READY_MIN_QUALITY if value in (None, "", "None") else float(value)


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="merge",
        unique_key=["player_lookup", "game_date"],
        window_column="game_date",
        written_at_column="updated_at",
        written_at_on_insert=False,
        on_schema_change="append_new_columns",
        partition_by={"field": "game_date", "data_type": "date", "granularity": "day"},
        cluster_by=["player_lookup", "feature_version", "game_date"],
        packages=["pandas", "numpy"],
    )
    min_quality = training_ready_min_quality(dbt)
    inputs = to_pandas(dbt.ref("int_ml_feature_store_v2__inputs"))
    try:
        seed = to_pandas(dbt.ref("feature_versions"))
    except Exception as error:  # noqa: BLE001 - the engine's own error type (DuckDB, Spark, BigQuery)
        raise ValueError("ml_feature_store_v2 v2 reads its feature names from the feature_versions seed, which this "
                         f"database does not hold ({type(error).__name__}): run dbt seed first (dbt run loads no "
                         "seed; dbt build --select +ml_feature_store_v2 does)") from error
    base, base_names = inputs.iloc[0:0], []
    if len(inputs):
        dates = pd.to_datetime(inputs["game_date"])
        stored = rows_between(dbt.ref("ml_feature_store_v2", v=1), "game_date", dates.min(), dates.max())
        # version 1's names once (they are every row's), not 25 strings per row read into memory
        base = to_pandas(without(stored, "feature_names"))
        base_names = list(to_pandas(stored.limit(1))["feature_names"].iloc[0]) if len(base) else []
    base_names = base_names or seed_names(seed, BASE_VERSION)
    names = names_from_seed(seed, base_names)
    if len(inputs) == 0:
        empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in OUTPUT_TYPES})
        return to_engine(empty, session, OUTPUT_TYPES)
    return to_engine(build_rows(base, inputs, names, min_quality), session, OUTPUT_TYPES)


def seed_names(seed, version):
    row = seed[seed["feature_version"] == version]
    return str(row["feature_names"].iloc[0]).split("|") if len(row) else []
