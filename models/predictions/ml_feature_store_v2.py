"""ml_feature_store_v2 (nba_predictions): one 25-feature vector per player per game date.

The story of the table, top-down:

1. Input: `int_ml_feature_store__inputs` (SQL) holds one prepared row per (player_lookup, game_date)
   of the run window: the upcoming-game context, the four Phase 4 upstream rows (daily cache,
   composite factors, shot zones, opponent team defence), the Phase 3 fallbacks computed from the
   player's last 10 *played* games before the date, completeness and per-entity source tracking,
   and an `input_fingerprint` of all of it.
2. Tier fallback per feature: the first non-NULL tier wins, in the order Phase 4 (labelled
   `phase4`), Phase 3 (`phase3`), default (`default`); a NULL never hides a lower tier
   (docs/decisions.md#tier-fallback, #phase3-fallbacks; fixes #legacy-tier-overwrite and
   #legacy-missing-fallbacks). Features 15-17 are always `phase3`.
3. Six calculated features (`calculated`): rest_advantage, injury_risk, recent_trend (sign fixed:
   positive when the newest 3 games beat the 2 before them, docs/decisions.md#calculated-features, #legacy-trend-sign),
   minutes_change, pct_free_throw and team_win_pct (computed, not the legacy constant 0.5: #legacy-team-win-pct).
   NULL inputs never crash and never become NaN features (docs/decisions.md#no-nan).
4. Quality: mean of per-feature weights (phase4 100, phase3 75, calculated 100, default 40), 2 dp;
   `data_source` from the Phase 4 / Phase 3 shares; `quality_tier` gold/silver/bronze/poor/unusable.
5. Early season (docs/decisions.md#early-season): dates in days 0-13 of their season get placeholder rows (features
   NULL, quality 0, data_source 'early_season', quality_tier NULL); other rows have
   early_season_flag FALSE, never NULL.
6. Provenance (for the people who train on and serve the table): `feature_sources` names the tier
   label of every feature (parallel to `features`), `default_feature_count` counts `default`, and
   `is_training_ready` is TRUE when the row is not early season, has no default feature and its
   quality score is at least the var `training_ready_min_quality` (85). Placeholders: NULL, NULL,
   FALSE. Stored rows reused by the fingerprint skip are recomputed when the threshold changed
   their readiness.
7. Schema (docs/decisions.md#schema, #rounding): legacy columns plus quality_tier, minus the circuit-breaker bookkeeping;
   values rounded half away from zero to the legacy scale at their decimal value (1.015 -> 1.02),
   and thresholds compared there too, as the SQL models do with exact DECIMALs. The model returns
   no `data_hash`: the merge derives it from every column it returns (macros/hashing/row_hash.sql).
   `input_fingerprint` (a hash of the whole prepared input row, which carries this file's
   `code_version`) lets an incremental run reuse stored rows whose inputs and code did not change.
"""

import time
from itertools import repeat

import numpy as np
import pandas as pd

# ---------------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------------

FEATURE_VERSION = "v1_baseline_25"

FEATURE_NAMES = [
    "points_avg_last_5",  # 0
    "points_avg_last_10",  # 1
    "points_avg_season",  # 2
    "points_std_last_10",  # 3
    "games_in_last_7_days",  # 4
    "fatigue_score",  # 5
    "shot_zone_mismatch_score",  # 6
    "pace_score",  # 7
    "usage_spike_score",  # 8
    "rest_advantage",  # 9
    "injury_risk",  # 10
    "recent_trend",  # 11
    "minutes_change",  # 12
    "opponent_def_rating",  # 13
    "opponent_pace",  # 14
    "home_away",  # 15
    "back_to_back",  # 16
    "playoff_game",  # 17
    "pct_paint",  # 18
    "pct_mid_range",  # 19
    "pct_three",  # 20
    "pct_free_throw",  # 21
    "team_pace",  # 22
    "team_off_rating",  # 23
    "team_win_pct",  # 24
]
FEATURE_COUNT = len(FEATURE_NAMES)

# Default of each feature (tiered features: the last tier; calculated: the neutral value).
DEFAULTS = {
    "points_avg_last_5": 10.0,
    "points_avg_last_10": 10.0,
    "points_avg_season": 10.0,
    "points_std_last_10": 5.0,
    "games_in_last_7_days": 3.0,
    "fatigue_score": 50.0,
    "shot_zone_mismatch_score": 0.0,
    "pace_score": 0.0,
    "usage_spike_score": 0.0,
    "rest_advantage": 0.0,
    "injury_risk": 0.0,
    "recent_trend": 0.0,
    "minutes_change": 0.0,
    "opponent_def_rating": 112.0,
    "opponent_pace": 100.0,
    "home_away": 0.0,
    "back_to_back": 0.0,
    "playoff_game": 0.0,
    "pct_paint": 0.30,
    "pct_mid_range": 0.20,
    "pct_three": 0.35,
    "pct_free_throw": 0.15,
    "team_pace": 100.0,
    "team_off_rating": 112.0,
    "team_win_pct": 0.5,
}

# Weight of each source label in the quality score (unknown label: 40, as legacy).
WEIGHTS = {"phase4": 100.0, "phase3": 75.0, "calculated": 100.0, "default": 40.0}
UNKNOWN_WEIGHT = 40.0
# Source labels are carried as small integer codes (index into LABELS; any other label: UNKNOWN_LABEL).
LABELS = np.array(["phase4", "phase3", "calculated", "default"], dtype=object)
UNKNOWN_LABEL = len(LABELS)
PHASE4, PHASE3, CALCULATED, DEFAULT = range(len(LABELS))
LABEL_WEIGHTS = np.array([WEIGHTS[label] for label in LABELS] + [UNKNOWN_WEIGHT])

# Tiers of the direct features: (input column, divisor, label), first non-NULL wins, then DEFAULTS.
# Rates stored as percents (0-100) upstream are divided by 100; Phase 3 shares are fractions.
TIERS = {
    "points_avg_last_5": [("pdc_points_avg_last_5", 1.0, "phase4"), ("p3_points_avg_last_5", 1.0, "phase3")],
    "points_avg_last_10": [("pdc_points_avg_last_10", 1.0, "phase4"), ("p3_points_avg_last_10", 1.0, "phase3")],
    "points_avg_season": [("pdc_points_avg_season", 1.0, "phase4"), ("p3_points_avg_season", 1.0, "phase3")],
    "points_std_last_10": [("pdc_points_std_last_10", 1.0, "phase4"), ("p3_points_std_last_10", 1.0, "phase3")],
    "games_in_last_7_days": [
        ("pdc_games_in_last_7_days", 1.0, "phase4"),
        ("p3_games_in_last_7_days", 1.0, "phase3"),
    ],
    "fatigue_score": [("pcf_fatigue_score", 1.0, "phase4")],
    "shot_zone_mismatch_score": [("pcf_shot_zone_mismatch_score", 1.0, "phase4")],
    "pace_score": [("pcf_pace_score", 1.0, "phase4")],
    "usage_spike_score": [("pcf_usage_spike_score", 1.0, "phase4")],
    "opponent_def_rating": [
        ("tdza_defensive_rating_last_15", 1.0, "phase4"),
        ("p3_opponent_def_rating", 1.0, "phase3"),
    ],
    "opponent_pace": [("tdza_opponent_pace", 1.0, "phase4"), ("p3_opponent_pace", 1.0, "phase3")],
    "pct_paint": [
        ("psza_paint_rate_last_10", 100.0, "phase4"),
        ("pdc_paint_rate_last_10", 100.0, "phase4"),
        ("p3_paint_share_last_10", 1.0, "phase3"),
    ],
    "pct_mid_range": [
        ("psza_mid_range_rate_last_10", 100.0, "phase4"),
        ("p3_mid_range_share_last_10", 1.0, "phase3"),
    ],
    "pct_three": [
        ("psza_three_pt_rate_last_10", 100.0, "phase4"),
        ("pdc_three_pt_rate_last_10", 100.0, "phase4"),
        ("p3_three_share_last_10", 1.0, "phase3"),
    ],
    "team_pace": [("pdc_team_pace_last_10", 1.0, "phase4"), ("p3_team_pace_last_10", 1.0, "phase3")],
    "team_off_rating": [
        ("pdc_team_off_rating_last_10", 1.0, "phase4"),
        ("p3_team_off_rating_last_10", 1.0, "phase3"),
    ],
}

INJURY_RISK = {"available": 0.0, "probable": 1.0, "questionable": 2.0, "doubtful": 3.0, "out": 3.0}

# Upstream readiness flag -> issue named in data_quality_issues when it is not TRUE (in this order).
UPSTREAM_ISSUES = [
    ("daily_cache_ready", "upstream_player_daily_cache_incomplete"),
    ("composite_ready", "upstream_player_composite_factors_incomplete"),
    ("shot_zone_ready", "upstream_player_shot_zone_incomplete"),
    ("team_defense_ready", "upstream_team_defense_zone_incomplete"),
]

SOURCES = ("source_daily_cache", "source_composite", "source_shot_zones", "source_team_defense")
KEY = ["player_lookup", "game_date"]

EARLY_SEASON_REASON = "early_season_skip_first_14_days"

# Default of the var training_ready_min_quality (the model reads the var through its config).
TRAINING_READY_MIN_QUALITY = 85.0

# Output columns, in order, with their DuckDB types (to_engine casts to these).
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
        # provenance (additive; hashed like every business column)
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

# ---------------------------------------------------------------------------------------------------
# Engine I/O and exact rounding (docs/python_model_contract.md)
# ---------------------------------------------------------------------------------------------------

# Places to which a computed float is taken as the decimal value its formula stands for: the inputs
# are decimals with few places, so binary noise (1.015 stored as 1.01499999999999990) sits far below.
DECIMAL_PLACES = 9


def decimal_value(values):
    """The decimal value a float formula stands for (binary noise removed): compare and round this."""
    return np.round(np.asarray(values, dtype="float64"), DECIMAL_PLACES)


def round_half_away(values, scale):
    """Round a float Series half away from zero to `scale` decimals at its decimal value, as the SQL
    models round exact DECIMALs: 1.015 -> 1.02 and -1.015 -> -1.02 although the float 1.015 is a
    little below the tie (NaN stays NaN)."""
    factor = 10.0 ** scale
    scaled = np.round(values.astype("float64") * factor, DECIMAL_PLACES - scale)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor


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
# Input normalisation (any input may be NULL: None, NaN, pd.NA, NaT; a missing column is all NULL)
# ---------------------------------------------------------------------------------------------------


def _column(frame, name):
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _as_float(values):
    """Any array-like (or scalar) -> 1-D float64 numpy array, NULL (None, NaN, pd.NA) as NaN."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return np.atleast_1d(values.astype("float64"))
    if not isinstance(values, pd.Series):
        values = pd.Series(list(np.atleast_1d(np.asarray(values, dtype=object))), dtype=object)
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _numbers(frame, name):
    return _as_float(_column(frame, name))


def _flags(frame, name):
    """Boolean column -> numpy bool, NULL as False."""
    return _column(frame, name).astype("boolean").fillna(False).to_numpy(dtype=bool)


def _nullable_bool(frame, name):
    return _column(frame, name).astype("boolean")


def _nullable_int(frame, name):
    return pd.Series(np.trunc(_numbers(frame, name)), index=frame.index).astype("Int64")


def _text(frame, name):
    values = _column(frame, name)
    return values.astype(object).where(values.notna(), None)


def _dates(frame, name):
    """DATE column (pandas 3 may deliver datetime64) -> datetime.date objects, None for NULL."""
    values = pd.to_datetime(_column(frame, name)).dt.date
    return values.astype(object).where(values.notna(), None)


def _timestamps(frame, name):
    return pd.to_datetime(_column(frame, name), utc=True)


# ---------------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------------


def select_tier(candidates, default):
    """First non-NULL candidate per row, else `default`.

    candidates: list of (values, label), highest tier first. Returns (float64 values, labels).
    """
    values, tiers = _select_tiers(candidates, default)
    return values, _tier_labels(candidates)[tiers]


def _tier_labels(candidates):
    return np.array(["default"] + [label for _, label in candidates], dtype=object)


def _select_tiers(candidates, default):
    """select_tier's values and, per row, the tier chosen: 0 for the default, i for the i-th candidate."""
    rows = len(_as_float(candidates[0][0]))
    values = np.full(rows, float(default))
    tiers = np.zeros(rows, dtype=np.int8)
    for tier in range(len(candidates), 0, -1):
        candidate = _as_float(candidates[tier - 1][0])
        present = ~np.isnan(candidate)
        values = np.where(present, candidate, values)
        tiers[present] = tier
    return values, tiers


def rest_advantage(days_rest, opponent_days_rest):
    """clamp(int(days_rest) - int(opponent_days_rest), -2, 2); 0.0 when either is NULL."""
    own, opponent = _as_float(days_rest), _as_float(opponent_days_rest)
    known = ~np.isnan(own) & ~np.isnan(opponent)
    diff = np.clip(np.trunc(np.where(known, own, 0.0)) - np.trunc(np.where(known, opponent, 0.0)), -2.0, 2.0)
    return np.where(known, diff, 0.0)


def injury_risk(player_status):
    """available 0, probable 1, questionable 2, doubtful 3, out 3 (case-insensitive); else 0."""
    status = pd.Series(np.atleast_1d(np.asarray(player_status, dtype=object))).astype("string").str.lower()
    return pd.to_numeric(status.map(INJURY_RISK), errors="coerce").fillna(0.0).to_numpy(dtype="float64")


def _bucket(values, big, small):
    """+/-2 at or beyond +/-big, +/-1 at or beyond +/-small, else 0 (legacy thresholds)."""
    return np.select(
        [values >= big, values >= small, values <= -big, values <= -small], [2.0, 1.0, -2.0, -1.0], 0.0
    )


def recent_trend(games_played, points):
    """mean(newest 3) - mean(games 4-5), bucketed at 5 / 2; needs 5 played games (NULL points = 0).

    points: rows of the 5 newest played games' points, newest first. Positive = improving form
    (the legacy sign was inverted: docs/decisions.md#recent-trend).
    """
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    pts = np.nan_to_num(np.asarray(points, dtype="float64").reshape(len(games), 5), nan=0.0)
    newest = (pts[:, 0] + pts[:, 1] + pts[:, 2]) / 3
    older = (pts[:, 3] + pts[:, 4]) / 2
    return np.where(games >= 5, _bucket(decimal_value(newest - older), 5.0, 2.0), 0.0)


def minutes_change(cache_minutes_last_10, phase3_minutes_last_10, games_played, season_minutes):
    """Recent minutes vs season minutes: +/-20% -> +/-2, +/-10% -> +/-1; 0.0 when either is 0."""
    cache = _as_float(cache_minutes_last_10)
    phase3 = _as_float(phase3_minutes_last_10)
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    recent = np.where(~np.isnan(cache), cache, np.where(games >= 1, np.nan_to_num(phase3, nan=0.0), 0.0))
    season = np.nan_to_num(_as_float(season_minutes), nan=0.0)
    usable = (recent != 0) & (season != 0)
    pct = np.where(usable, recent - season, 0.0) / np.where(usable, season, 1.0)
    return np.where(usable, _bucket(decimal_value(pct), 0.20, 0.10), 0.0)


def pct_free_throw(games_played, points_sum, ft_makes_sum):
    """FT makes / points over the last 10 played games, clamped to [0, 0.5]; 0.15 if < 5 games or 0 points."""
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    points = np.nan_to_num(_as_float(points_sum), nan=0.0)
    makes = np.nan_to_num(_as_float(ft_makes_sum), nan=0.0)
    usable = (games >= 5) & (points != 0)
    share = np.clip(makes / np.where(usable, points, 1.0), 0.0, 0.5)
    return np.where(usable, share, DEFAULTS["pct_free_throw"])


def team_win_pct(team_games, team_wins):
    """Wins / games of the team's season before the date; 0.5 below 5 games (docs/decisions.md#calculated-features)."""
    games = np.nan_to_num(_as_float(team_games), nan=0.0)
    wins = np.nan_to_num(_as_float(team_wins), nan=0.0)
    usable = games >= 5
    return np.where(usable, wins / np.where(usable, games, 1.0), DEFAULTS["team_win_pct"])


def assemble_features(inputs):
    """Returns (features n x 25 float64, labels n x 25) in FEATURE_NAMES order."""
    features, codes = _assemble_features(inputs)
    return features, LABELS[codes]


def _assemble_features(inputs):
    """assemble_features with label codes (n x 25 int8) instead of label strings."""
    games = _numbers(inputs, "p3_games_last_10")
    points = np.column_stack([_numbers(inputs, f"p3_points_{rank}") for rank in range(1, 6)])
    calculated = {
        "rest_advantage": rest_advantage(_numbers(inputs, "days_rest"), _numbers(inputs, "opponent_days_rest")),
        "injury_risk": injury_risk(_column(inputs, "player_status")),
        "recent_trend": recent_trend(games, points),
        "minutes_change": minutes_change(
            _numbers(inputs, "pdc_minutes_avg_last_10"),
            _numbers(inputs, "p3_minutes_avg_last_10"),
            games,
            _numbers(inputs, "p3_minutes_avg_season"),
        ),
        "pct_free_throw": pct_free_throw(
            games, _numbers(inputs, "p3_points_sum_last_10"), _numbers(inputs, "p3_ft_makes_sum_last_10")
        ),
        "team_win_pct": team_win_pct(_numbers(inputs, "team_season_games"), _numbers(inputs, "team_season_wins")),
    }
    game_context = {
        "home_away": _flags(inputs, "is_home").astype("float64"),
        "back_to_back": _flags(inputs, "back_to_back").astype("float64"),
        "playoff_game": (
            _column(inputs, "season_phase").astype("string").str.lower().eq("playoffs").fillna(False)
        ).to_numpy(dtype="float64"),
    }
    values, labels = [], []
    for name in FEATURE_NAMES:
        if name in TIERS:
            candidates = [(_numbers(inputs, column) / divisor, label) for column, divisor, label in TIERS[name]]
            value, tiers = _select_tiers(candidates, DEFAULTS[name])
            label = _label_codes(_tier_labels(candidates))[tiers]
        elif name in calculated:
            value, label = calculated[name], np.full(len(inputs), CALCULATED, dtype=np.int8)
        else:
            value, label = game_context[name], np.full(len(inputs), PHASE3, dtype=np.int8)
        values.append(value)
        labels.append(label)
    features = np.column_stack(values).astype("float64") if values else np.empty((0, FEATURE_COUNT))
    features = features.reshape(len(inputs), FEATURE_COUNT)
    if np.isnan(features).any():
        raise ValueError("ml_feature_store_v2: a feature is NaN; every NULL input must fall back")
    return features, np.column_stack(labels).reshape(len(inputs), FEATURE_COUNT)


# ---------------------------------------------------------------------------------------------------
# Quality
# ---------------------------------------------------------------------------------------------------


def _label_codes(labels):
    """Label strings (any shape) -> label codes (int8), unknown labels -> UNKNOWN_LABEL; codes pass through."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        return labels.astype(np.int8)
    codes = np.full(labels.shape, UNKNOWN_LABEL, dtype=np.int8)
    for code, label in enumerate(LABELS):
        codes[labels == label] = code
    return codes


def _label_matrix(labels):
    matrix = _label_codes(labels)
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix


def quality_score(labels):
    """Mean of the per-feature weights, rounded half away to 2 dp; 0.0 for an empty label set.
    labels: n x k label strings or label codes."""
    matrix = _label_matrix(labels)
    if matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0])
    weights = LABEL_WEIGHTS[matrix]
    return round_half_away(pd.Series(weights.sum(axis=1) / matrix.shape[1]), 2).to_numpy()


DATA_SOURCES = np.array(["phase4", "phase4_partial", "phase3", "mixed", "unknown"], dtype=object)


def data_source(labels):
    """phase4 (>= 90% Phase 4), phase4_partial (>= 50%), phase3 (>= 50% Phase 3), else mixed.
    labels: n x k label strings or label codes."""
    matrix = _label_matrix(labels)
    if matrix.shape[1] == 0:
        return DATA_SOURCES[np.full(matrix.shape[0], 4)]
    phase4 = (matrix == PHASE4).sum(axis=1) / matrix.shape[1]
    phase3 = (matrix == PHASE3).sum(axis=1) / matrix.shape[1]
    return DATA_SOURCES[np.select([phase4 >= 0.90, phase4 >= 0.50, phase3 >= 0.50], [0, 1, 2], 3)]


def quality_tier(scores):
    """gold >= 95, silver >= 75, bronze >= 50, poor >= 25, else unusable; NULL score -> NULL."""
    score = _as_float(scores)
    tier = np.select(
        [score >= 95, score >= 75, score >= 50, score >= 25], ["gold", "silver", "bronze", "poor"], "unusable"
    ).astype(object)
    tier[np.isnan(score)] = None
    return tier


# ---------------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------------

# The 16 possible data_quality_issues lists, by bit code of the not-ready upstreams.
_ISSUES_BY_CODE = {
    code: [issue for bit, (_, issue) in enumerate(UPSTREAM_ISSUES) if code & (1 << bit)]
    for code in range(1 << len(UPSTREAM_ISSUES))
}


def readiness_fields(inputs):
    """Completeness counts, is_production_ready (own AND all four upstreams) and data_quality_issues."""
    ready = np.column_stack([_flags(inputs, flag) for flag, _ in UPSTREAM_ISSUES])
    ready = ready.reshape(len(inputs), len(UPSTREAM_ISSUES))
    codes = ((~ready) * (1 << np.arange(len(UPSTREAM_ISSUES)))).sum(axis=1)
    return pd.DataFrame(
        {
            "expected_games_count": _nullable_int(inputs, "expected_games_count"),
            "actual_games_count": _nullable_int(inputs, "actual_games_count"),
            "completeness_percentage": round_half_away(
                pd.Series(_numbers(inputs, "completeness_percentage"), index=inputs.index), 1
            ),
            "missing_games_count": _nullable_int(inputs, "missing_games_count"),
            "is_production_ready": _flags(inputs, "own_data_ready") & ready.all(axis=1),
            "data_quality_issues": pd.Series(codes, index=inputs.index).map(_ISSUES_BY_CODE),
        },
        index=inputs.index,
    )


def _context_columns(inputs):
    """Identifiers, game context, per-entity source tracking and flags copied from the input."""
    columns = {
        "player_lookup": _text(inputs, "player_lookup"),
        "universal_player_id": _text(inputs, "universal_player_id"),
        "game_date": _dates(inputs, "game_date"),
        "game_id": _text(inputs, "game_id"),
        "opponent_team_abbr": _text(inputs, "opponent_team_abbr"),
        "is_home": _nullable_bool(inputs, "is_home"),
        "days_rest": _nullable_int(inputs, "days_rest"),
    }
    for source in SOURCES:
        columns[f"{source}_last_updated"] = _timestamps(inputs, f"{source}_last_updated")
        columns[f"{source}_rows_found"] = _nullable_int(inputs, f"{source}_rows_found")
        columns[f"{source}_completeness_pct"] = round_half_away(
            pd.Series(_numbers(inputs, f"{source}_completeness_pct"), index=inputs.index), 2
        )
        columns[f"{source}_hash"] = _text(inputs, f"{source}_hash")
    columns["season_boundary_detected"] = _nullable_bool(inputs, "season_boundary_detected")
    columns["backfill_bootstrap_mode"] = _nullable_bool(inputs, "backfill_bootstrap_mode")
    columns["input_fingerprint"] = _text(inputs, "input_fingerprint")
    columns["code_version"] = _text(inputs, "code_version")
    return pd.DataFrame(columns, index=inputs.index)


def _constant(inputs, value):
    return pd.Series([value] * len(inputs), index=inputs.index, dtype=object)


def source_lists(codes):
    """n x 25 label codes -> Series of per-row label lists (one shared list per distinct combination)."""
    if len(codes) == 0:
        return pd.Series([], dtype=object)
    combos, inverse = np.unique(codes, axis=0, return_inverse=True)
    lists = np.empty(len(combos), dtype=object)
    for position, combo in enumerate(combos):
        lists[position] = list(LABELS[combo])
    return pd.Series(lists[np.ravel(inverse)], dtype=object)


def training_ready(early_season, default_count, scores, min_quality):
    """Not early season, no default feature, quality score >= min_quality (NULL counts/scores: FALSE)."""
    counts = _as_float(default_count)
    score = _as_float(scores)
    return ~np.asarray(early_season, dtype=bool) & (counts == 0) & (score >= float(min_quality))


def provenance(codes, scores, min_quality):
    """(feature_sources, default_feature_count, is_training_ready) of computed rows (label codes n x 25)."""
    default_count = (codes == DEFAULT).sum(axis=1).astype("int64")
    ready = training_ready(np.zeros(len(codes), dtype=bool), default_count, scores, min_quality)
    return source_lists(codes), default_count, ready


def feature_rows(inputs, min_quality=TRAINING_READY_MIN_QUALITY):
    """Output rows (without hash, timing and timestamps) of the rows past the early season."""
    features, labels = _assemble_features(inputs)
    scores = quality_score(labels)
    sources, default_count, ready = provenance(labels, scores, min_quality)
    rows = _context_columns(inputs)
    rows["features"] = pd.Series(list(features), index=inputs.index, dtype=object)
    rows["feature_names"] = _constant(inputs, list(FEATURE_NAMES))
    rows["feature_count"] = FEATURE_COUNT
    rows["feature_version"] = FEATURE_VERSION
    rows["feature_quality_score"] = scores
    rows["quality_tier"] = quality_tier(scores)
    rows["data_source"] = data_source(labels)
    rows["feature_sources"] = pd.Series(sources.to_numpy(), index=inputs.index, dtype=object)
    rows["default_feature_count"] = pd.Series(default_count, index=inputs.index, dtype="Int64")
    rows["is_training_ready"] = ready
    rows["early_season_flag"] = False
    rows["insufficient_data_reason"] = None
    rows = rows.join(readiness_fields(inputs))
    rows["processing_decision_reason"] = "processed_successfully"
    return rows


def placeholder_rows(inputs):
    """Early-season placeholders (docs/decisions.md#early-season): features NULL (a NULL array: BigQuery
    refuses NULL elements), quality 0, data_source early_season."""
    rows = _context_columns(inputs)
    rows["features"] = _constant(inputs, None)
    rows["feature_names"] = _constant(inputs, list(FEATURE_NAMES))
    rows["feature_count"] = FEATURE_COUNT
    rows["feature_version"] = FEATURE_VERSION
    rows["feature_generation_time_ms"] = pd.Series(pd.NA, index=inputs.index, dtype="Int64")
    rows["feature_quality_score"] = 0.0
    rows["quality_tier"] = None
    rows["data_source"] = "early_season"
    rows["feature_sources"] = _constant(inputs, None)
    rows["default_feature_count"] = pd.Series(pd.NA, index=inputs.index, dtype="Int64")
    rows["is_training_ready"] = False
    rows["early_season_flag"] = True
    rows["insufficient_data_reason"] = EARLY_SEASON_REASON
    rows["expected_games_count"] = pd.Series(0, index=inputs.index, dtype="Int64")
    rows["actual_games_count"] = pd.Series(0, index=inputs.index, dtype="Int64")
    rows["completeness_percentage"] = 0.0
    rows["missing_games_count"] = pd.Series(0, index=inputs.index, dtype="Int64")
    rows["is_production_ready"] = False
    rows["data_quality_issues"] = _constant(inputs, [])
    rows["processing_decision_reason"] = "early_season_placeholder"
    return rows


def build_rows(inputs, min_quality=TRAINING_READY_MIN_QUALITY):
    """Every output column for every input row, sorted by (player_lookup, game_date)."""
    started = time.perf_counter()
    early = _flags(inputs, "early_season_flag")
    computed = feature_rows(inputs[~early], min_quality)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    computed["feature_generation_time_ms"] = pd.Series(
        int(elapsed_ms / len(computed)) if len(computed) else 0, index=computed.index, dtype="Int64"
    )
    parts = [part for part in (computed, placeholder_rows(inputs[early])) if len(part)]
    rows = pd.concat(parts) if parts else computed
    rows = rows.sort_values(KEY, kind="stable").reset_index(drop=True)
    now = pd.Timestamp.now(tz="UTC")
    rows["created_at"] = pd.Series(now, index=rows.index, dtype="datetime64[us, UTC]")
    rows["updated_at"] = pd.Series(now, index=rows.index, dtype="datetime64[us, UTC]")
    return rows[list(OUTPUT_TYPES)]


# ---------------------------------------------------------------------------------------------------
# Incremental: fingerprint skip
# ---------------------------------------------------------------------------------------------------


def unique_inputs(inputs):
    """game_date as DATE values and one row per key (smallest game_id wins; docs/decisions.md#tie-breaks)."""
    inputs = inputs.reset_index(drop=True)
    order = [column for column in KEY + ["game_id"] if column in inputs.columns]
    # sort and deduplicate on the key columns only (game_date as a day), then take the rows once
    keys = inputs[order].assign(game_date=pd.to_datetime(inputs["game_date"]).dt.normalize())
    keys = keys.sort_values(order, kind="stable", na_position="last")
    rows = keys.index[~keys.duplicated(KEY, keep="first")].to_numpy()
    if not np.array_equal(rows, np.arange(len(inputs))):
        inputs = inputs.take(rows).reset_index(drop=True)
    return inputs.assign(game_date=_dates(inputs, "game_date"))


def read_stored_rows(session, this, inputs):
    """Stored rows of the input's dates (range between min and max)."""
    dates = [value for value in inputs["game_date"] if value is not None]
    return read_window(session, this, "game_date", min(dates), max(dates))


def _float_lists(values):
    """Stored float arrays as float ndarrays with NaN for NULL elements (DuckDB returns a MaskedArray
    for an array holding NULLs; only those are converted); a NULL array stays None."""
    arrays = values.to_numpy(dtype=object).copy()
    arrays[values.isna().to_numpy(dtype=bool)] = None
    masked = np.fromiter(map(isinstance, arrays, repeat(np.ma.MaskedArray)), dtype=bool, count=len(arrays))
    if masked.any():
        filled = [np.ma.filled(array.astype("float64"), np.nan) for array in arrays[masked]]
        arrays[masked] = pd.Series(filled, dtype=object).to_numpy()
    return pd.Series(arrays, index=values.index, dtype=object)


def _string_lists(values):
    """Stored string arrays (ndarrays or lists) as lists; a NULL array stays None."""
    arrays = values.to_numpy(dtype=object).copy()
    present = ~values.isna().to_numpy(dtype=bool)
    arrays[~present] = None
    arrays[present] = pd.Series(list(map(list, arrays[present])), dtype=object).to_numpy()
    return pd.Series(arrays, index=values.index, dtype=object)


def split_unchanged(inputs, stored, min_quality=TRAINING_READY_MIN_QUALITY):
    """(stored rows to return unchanged, inputs to compute): a stored row is reused when its
    input_fingerprint equals the input's and its is_training_ready agrees with `min_quality`."""
    if len(stored) == 0 or not set(OUTPUT_TYPES) <= set(stored.columns):
        return stored.iloc[0:0], inputs
    stored = stored.assign(game_date=_dates(stored, "game_date")).drop_duplicates(KEY, keep="last")
    probe = inputs.loc[inputs["input_fingerprint"].notna(), KEY + ["input_fingerprint"]]
    reused = probe.merge(stored[stored["input_fingerprint"].notna()], on=KEY + ["input_fingerprint"])
    still_ready = training_ready(
        _flags(reused, "early_season_flag"), _numbers(reused, "default_feature_count"),
        _numbers(reused, "feature_quality_score"), min_quality,
    )
    reused = reused[still_ready == _flags(reused, "is_training_ready")].reset_index(drop=True)
    reused = reused[list(OUTPUT_TYPES)].assign(
        features=_float_lists(reused["features"]),
        feature_names=_string_lists(reused["feature_names"]),
        feature_sources=_string_lists(reused["feature_sources"]),
        data_quality_issues=_string_lists(reused["data_quality_issues"]),
        **{name: _timestamps(reused, name) for name, kind in OUTPUT_TYPES.items() if kind.startswith("timestamp")},
    )
    done = inputs[KEY].merge(reused[KEY], on=KEY, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    return reused, inputs[~done]


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


def training_ready_min_quality(dbt):
    """The var training_ready_min_quality, handed over by the model's YAML config (a Python model
    cannot call var()); TRAINING_READY_MIN_QUALITY when the config is absent."""
    try:
        value = dbt.config.get("training_ready_min_quality")  # literal call: dbt finds the key by parsing
    except AttributeError:  # a test double without config.get
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
        partitioned_by="game_date",  # dbt-duckdb reads this before partition_by (it rejects the BigQuery dict)
        partition_by={"field": "game_date", "data_type": "date", "granularity": "day"},
        cluster_by=["player_lookup", "feature_version", "game_date"],
        packages=["pandas", "numpy"],
    )
    min_quality = training_ready_min_quality(dbt)
    inputs = unique_inputs(to_pandas(dbt.ref("int_ml_feature_store__inputs")))
    reused = None
    if dbt.is_incremental and len(inputs) > 0:
        reused, inputs = split_unchanged(inputs, read_stored_rows(session, dbt.this, inputs), min_quality)
    output = build_rows(inputs, min_quality)
    if reused is not None and len(reused) > 0:
        output = pd.concat([reused, output] if len(output) else [reused])
        output = output.sort_values(KEY, kind="stable").reset_index(drop=True)
    return to_engine(output, session, OUTPUT_TYPES)
