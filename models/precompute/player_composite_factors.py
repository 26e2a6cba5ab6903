"""player_composite_factors: per-player composite adjustment factors for each game date.

One row per (player_lookup, game_date) of the run window, built from
`int_player_composite_factors__inputs` (one prepared row per upcoming-context player and date:
his context, his shot-zone row for the date, his opponent's team-defence row, completeness,
readiness and per-entity source tracking, all computed set-based in SQL).

The story of a row, as the legacy PlayerCompositeFactorsProcessor told it (docs/decisions.md#legacy-formulas):
  1. fatigue score (integer 0-100, higher = more rested), turned into an adjustment of
     (score - 100) / 20;
  2. shot-zone mismatch: the opponent's defence in the player's primary zone, weighted by how much
     he uses that zone, +20 % beyond |5.0|, clamped to [-10, 10] ('balanced' or NULL zones are
     scored against paint defence, as legacy did);
  3. pace: half the pace differential, clamped to [-3, 3];
  4. usage spike: 0.3 x (projected - recent usage), boosted when stars are out, clamped to [-3, 3];
  5. four deferred factors, always 0.0;
  then the total, the data-quality fields, warnings, the context JSON, readiness and hashes.

Where this model deliberately differs from legacy (docs/decisions.md):
  - Early-season dates (days 0-13 of the season) are not failed runs: the row is computed from
    whatever inputs exist, `early_season_flag` is TRUE and `insufficient_data_reason` is
    'early_season_skip_first_14_days' (docs/decisions.md#early-season); elsewhere the flag is FALSE.
  - Scores are stored rounded half away from zero to their column scale; the total and the
    warnings use the unrounded components (docs/decisions.md#rounding).
  - Completeness compares like with like and source tracking is per entity (docs/decisions.md#completeness, #source-tracking);
    both are computed upstream in SQL and passed through.
  - The model returns no `data_hash`: the merge derives it from every column the model returns
    (macros/hashing/row_hash.sql) and writes only rows whose hash changed, deleting rows that no
    longer qualify (docs/decisions.md#no-stale-rows). Rows whose `input_fingerprint` (a hash of the whole prepared input
    row, which carries this file's `code_version`) is unchanged are not recomputed.
  - Rounding and thresholds work at the decimal value of each formula (1.015 -> 1.02), as the SQL
    models do with exact DECIMALs.
  - The circuit-breaker bookkeeping columns are dropped (docs/decisions.md#schema).
  - NULL inputs never crash or become NaN: the legacy safe defaults apply (docs/decisions.md#legacy-formulas, #no-nan).

The file is self-contained (it must run unchanged on a remote engine) and carries its own copy of
the helpers of docs/python_model_contract.md.
"""

import json

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

KEY_COLUMNS = ["player_lookup", "game_date"]
CALCULATION_VERSION = "v1_4factors"
EARLY_SEASON_REASON = "early_season_skip_first_14_days"
PROCESSING_DECISION = "processed_successfully"
LEAGUE_AVG_PACE = 100.0
DEFERRED_FACTORS = [
    "referee_favorability_score",
    "look_ahead_pressure_score",
    "travel_impact_score",
    "opponent_strength_score",
]
SOURCE_PREFIXES = ["source_player_context", "source_team_context", "source_player_shot", "source_team_defense"]
UPSTREAM_FLAGS = {  # readiness flag -> data_quality_issues label, in the legacy order
    "upstream_player_shot_ready": "upstream_player_shot_zone_incomplete",
    "upstream_team_defense_ready": "upstream_team_defense_zone_incomplete",
    "upstream_player_context_ready": "upstream_player_context_incomplete",
    "upstream_team_context_ready": "upstream_team_context_incomplete",
}
ZONE_RATE_COLUMNS = {"paint": "paint_rate_last_10", "mid_range": "mid_range_rate_last_10",
                     "perimeter": "three_pt_rate_last_10"}
ZONE_DEFENSE_COLUMNS = {"paint": "paint_defense_vs_league_avg", "mid_range": "mid_range_defense_vs_league_avg",
                        "perimeter": "three_pt_defense_vs_league_avg"}
WARNINGS = {
    "fatigue": "EXTREME_FATIGUE: Player showing severe fatigue",
    "matchup": "EXTREME_MATCHUP: Unusual zone mismatch",
    "adjustment": "EXTREME_ADJUSTMENT: Very large composite adjustment",
}


def _source_columns():
    columns = {}
    for prefix in SOURCE_PREFIXES:
        columns[f"{prefix}_last_updated"] = "timestamp with time zone"
        columns[f"{prefix}_rows_found"] = "bigint"
        columns[f"{prefix}_completeness_pct"] = "decimal(5,2)"
        columns[f"{prefix}_hash"] = "varchar"
    return columns


# Output columns, in table order, with their DuckDB types (legacy schema minus circuit breaker).
OUTPUT_COLUMNS = {
    "player_lookup": "varchar", "universal_player_id": "varchar", "game_date": "date",
    "game_id": "varchar", "analysis_date": "date",
    "fatigue_score": "bigint", "shot_zone_mismatch_score": "decimal(4,1)", "pace_score": "decimal(3,1)",
    "usage_spike_score": "decimal(3,1)", "referee_favorability_score": "decimal(3,1)",
    "look_ahead_pressure_score": "decimal(3,1)", "travel_impact_score": "decimal(3,1)",
    "opponent_strength_score": "decimal(3,1)", "total_composite_adjustment": "decimal(5,2)",
    "fatigue_context_json": "varchar", "shot_zone_context_json": "varchar", "pace_context_json": "varchar",
    "usage_context_json": "varchar", "calculation_version": "varchar",
    "data_completeness_pct": "decimal(5,2)", "missing_data_fields": "varchar", "has_warnings": "boolean",
    "warning_details": "varchar",
    **_source_columns(),
    "early_season_flag": "boolean", "insufficient_data_reason": "varchar",
    "expected_games_count": "bigint", "actual_games_count": "bigint", "completeness_percentage": "double",
    "missing_games_count": "bigint", "is_production_ready": "boolean",
    "upstream_player_shot_ready": "boolean", "upstream_team_defense_ready": "boolean",
    "upstream_player_context_ready": "boolean", "upstream_team_context_ready": "boolean",
    "all_upstreams_ready": "boolean", "data_quality_issues": "varchar[]",
    "season_boundary_detected": "boolean", "backfill_bootstrap_mode": "boolean",
    "processing_decision_reason": "varchar",
    "input_fingerprint": "varchar", "code_version": "varchar",
    "created_at": "timestamp with time zone", "processed_at": "timestamp with time zone",
}

# --------------------------------------------------------------------------------------------
# Engine I/O and exact rounding (docs/python_model_contract.md)
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Safe conversions (kept from legacy: docs/decisions.md#legacy-formulas), vectorised: NULL / NaN / pd.NA / unparsable -> the default
# --------------------------------------------------------------------------------------------


def safe_float(values, default):
    return pd.to_numeric(values, errors="coerce").astype("float64").fillna(default)


def safe_int(values, default):
    """int(v) truncates toward zero, as legacy `_safe_int`."""
    return np.trunc(safe_float(values, default)).astype("int64")


def safe_bool(values, default):
    return values.astype("boolean").fillna(default).astype(bool)


def _flag_codes(flags, render):
    """(codes, table): table[codes] is render(labels whose flag is TRUE, in the mapping's order) of
    each row; the 2**len(flags) combinations are rendered once, codes are the rows' flag bits."""
    masks = [np.asarray(mask, dtype=bool) for mask in flags.values()]
    codes = sum(mask.astype(np.intp) << bit for bit, mask in enumerate(masks))
    table = np.empty(1 << len(masks), dtype=object)
    for code in range(len(table)):
        table[code] = render([label for bit, label in enumerate(flags) if code >> bit & 1])
    return codes, table


def _by_flag_code(flags, render):
    codes, table = _flag_codes(flags, render)
    return table[codes]


def _join_labels(flags, sep):
    """Labels whose flag is TRUE, in the mapping's order, joined with `sep` ('' when none)."""
    return pd.Series(_by_flag_code(flags, sep.join), index=next(iter(flags.values())).index, dtype=object)


def _label_lists(flags):
    """Lists of the labels whose flag is TRUE, in the mapping's order ([] when none)."""
    return pd.Series(_by_flag_code(flags, list), index=next(iter(flags.values())).index, dtype=object)


def _text_or_null(text):
    return text.where(text != "", None)


# --------------------------------------------------------------------------------------------
# Factor 1: fatigue (legacy formula)
# --------------------------------------------------------------------------------------------


def _fatigue_inputs(frame):
    """Scoring inputs with the legacy scoring defaults."""
    return pd.DataFrame({
        "days_rest": safe_int(frame["days_rest"], 1),
        "b2b": safe_bool(frame["back_to_back"], False),
        "g7": safe_int(frame["games_in_last_7_days"], 3),
        "m7": safe_float(frame["minutes_in_last_7_days"], 200.0),
        "mpg7": safe_float(frame["avg_minutes_per_game_last_7"], 30.0),
        "b2b14": safe_int(frame["back_to_backs_last_14_days"], 0),
        "age": safe_int(frame["player_age"], 25),
    }, index=frame.index)


def fatigue_score(frame):
    """Integer 0-100, higher = more rested; all inputs NULL gives 100."""
    f = _fatigue_inputs(frame)
    score = (
        100
        - 15 * f["b2b"] + 5 * (~f["b2b"] & (f["days_rest"] >= 3))
        - 10 * (f["g7"] >= 4) - 10 * (f["m7"] > 240) - 8 * (f["mpg7"] > 35)
        - 12 * (f["b2b14"] >= 2) - 5 * (f["b2b14"] == 1)
        - 10 * (f["age"] >= 35) - 5 * ((f["age"] >= 30) & (f["age"] < 35))
    )
    return score.clip(0, 100).astype("int64")


def fatigue_adjustment(score):
    """(score - 100) / 20: 0 for a rested player, down to -5."""
    return (score.astype("float64") - 100.0) / 20.0


# --------------------------------------------------------------------------------------------
# Factor 2: shot-zone mismatch (legacy formula)
# --------------------------------------------------------------------------------------------


def _zone_pick(frame, columns):
    """The value of the player's primary zone column; 'balanced' or NULL fall back to paint."""
    zone = frame["primary_scoring_zone"]
    picked = safe_float(frame[columns["paint"]], np.nan)
    for name in ("mid_range", "perimeter"):
        picked = picked.where(zone.ne(name).fillna(True).astype(bool), safe_float(frame[columns[name]], np.nan))
    return picked


def has_zone_rows(frame):
    return safe_bool(frame["has_shot_zone_row"], False) & safe_bool(frame["has_team_defense_row"], False)


def shot_zone_mismatch_score(frame):
    """Opponent zone defence x min(zone usage / 50, 1), x1.2 beyond |5.0|, clamped to [-10, 10]."""
    usage_pct = safe_float(_zone_pick(frame, ZONE_RATE_COLUMNS), 50.0)
    defense = safe_float(_zone_pick(frame, ZONE_DEFENSE_COLUMNS), 0.0)
    raw = defense * np.minimum(usage_pct / 50.0, 1.0)
    boosted = raw.where(decimal_value(raw.abs()) <= 5.0, raw * 1.2)
    return boosted.clip(-10.0, 10.0).where(has_zone_rows(frame), 0.0)


# --------------------------------------------------------------------------------------------
# Factors 3 and 4: pace and usage spike (legacy formulas)
# --------------------------------------------------------------------------------------------


def pace_score(frame):
    return (safe_float(frame["pace_differential"], 0.0) / 2.0).clip(-3.0, 3.0)


def usage_spike_score(frame):
    """0.3 x (projected - baseline), x1.15 (one star out) or x1.30 (two+) when positive."""
    projected = safe_float(frame["projected_usage_rate"], 25.0)
    baseline = safe_float(frame["avg_usage_rate_last_7_games"], 25.0)
    stars = safe_int(frame["star_teammates_out"], 0)
    spike = (projected - baseline) * 0.3
    boost = pd.Series(np.where(stars >= 2, 1.30, 1.15), index=frame.index)
    spike = spike.where(~((stars > 0) & (spike > 0)), spike * boost)
    return spike.clip(-3.0, 3.0).where(baseline != 0, 0.0)


# --------------------------------------------------------------------------------------------
# Total, data quality and warnings (legacy formulas)
# --------------------------------------------------------------------------------------------


def total_adjustment(fatigue_adj, shot_zone, pace, usage):
    """Sum of the unrounded adjustments (the deferred factors add 0.0)."""
    return fatigue_adj + shot_zone + pace + usage


def data_quality_fields(frame):
    """data_completeness_pct (share of 5 checks) and missing_data_fields (', '-joined or NULL)."""
    present = {
        "days_rest": frame["days_rest"].notna(),
        "projected_usage_rate": frame["projected_usage_rate"].notna(),
        "pace_differential": frame["pace_differential"].notna(),
        "player_shot_zone": safe_bool(frame["has_shot_zone_row"], False),
        "team_defense_zone": safe_bool(frame["has_team_defense_row"], False),
    }
    passed = sum(mask.astype("int64") for mask in present.values())
    return pd.DataFrame({
        "data_completeness_pct": round_half_away(passed / 5 * 100, 1),
        "missing_data_fields": _text_or_null(_join_labels({k: ~v for k, v in present.items()}, ", ")),
    }, index=frame.index)


def warning_fields(fatigue, shot_zone, total):
    """has_warnings and warning_details ('; '-joined or NULL), from unrounded values."""
    details = _join_labels({
        WARNINGS["fatigue"]: fatigue < 50,
        WARNINGS["matchup"]: decimal_value(shot_zone.abs()) > 8.0,
        WARNINGS["adjustment"]: decimal_value(total.abs()) > 12.0,
    }, "; ")
    return pd.DataFrame({"has_warnings": details != "", "warning_details": _text_or_null(details)},
                        index=fatigue.index)


# --------------------------------------------------------------------------------------------
# Context JSON (as legacy: its defaults differ from the scoring defaults on purpose)
# --------------------------------------------------------------------------------------------


def _as_objects(texts):
    """A list or array of str -> 1-D object array of str."""
    result = np.empty(len(texts), dtype=object)
    result[:] = texts
    return result


def _all_strings(values):
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _join_rows(pieces, rows, sep=""):
    """Per row, the texts of the coded pieces [(codes, texts), ...] joined with `sep` (object array).
    Adjacent pieces are first merged on their value combinations (a full table up to 4096 entries,
    else the combinations that occur, while at most a quarter of the rows), so every row joins only
    a handful of texts (str.join, no Python code per row)."""
    groups = []
    codes, texts = pieces[0]
    for next_codes, next_texts in pieces[1:]:
        pair = codes * len(next_texts) + next_codes
        if len(texts) * len(next_texts) <= 4096:
            codes, texts = pair, ((texts + sep)[:, None] + next_texts[None, :]).ravel()
            continue
        pair_codes, pairs = pd.factorize(pair)
        if len(pairs) <= rows // 4:
            codes, texts = pair_codes, texts[pairs // len(next_texts)] + sep + next_texts[pairs % len(next_texts)]
        else:
            groups.append(texts[codes])
            codes, texts = next_codes, next_texts
    groups.append(texts[codes])
    return _as_objects(list(map(sep.join, zip(*groups))))


def json_codes(values):
    """json.dumps of each value of a bool, int, float or str column as (codes, texts): texts[codes]
    is each value's text (NULL -> 'null'). Each distinct value is rendered once; floats are keyed by
    their bits, so -0.0 stays '-0.0' (and NaN is 'NaN', as json.dumps writes it)."""
    values = values if isinstance(values, pd.Series) else pd.Series(values)
    kind = values.dtype.kind
    if kind == "b" and not values.hasnans:
        return values.to_numpy(dtype=bool).astype(np.intp), _as_objects(["false", "true"])
    if kind == "f":
        codes, distinct = pd.factorize(values.to_numpy(dtype="float64").view("int64"))
        return codes, _json_floats(distinct.view("float64"))
    if kind in "iu" or _all_strings(values):
        codes, distinct = pd.factorize(values)
        texts = np.append(_as_objects(list(map(json.dumps, distinct.tolist()))), "null")
        return np.where(codes < 0, len(texts) - 1, codes), texts
    objects = values.astype(object).where(values.notna(), None).tolist()
    return np.arange(len(objects)), _as_objects(list(map(json.dumps, objects)))


def _json_floats(values):
    """Python float repr, as json.dumps writes floats (NaN, Infinity and -Infinity when not finite)."""
    texts = _as_objects(list(map(float.__repr__, values.tolist())))
    texts[np.isnan(values)] = "NaN"
    texts[values == np.inf] = "Infinity"
    texts[values == -np.inf] = "-Infinity"
    return texts


def json_label_lists(flags):
    """json.dumps of the list of the labels whose flag is TRUE (mapping order), as (codes, texts)."""
    return _flag_codes(flags, json.dumps)


def json_records(fields):
    """json.dumps({key: value, ...}) of each row (default separators, keys in the given order) as an
    object array, from each field's (codes, texts) (json_codes / json_label_lists)."""
    pieces = []
    for position, (key, (codes, texts)) in enumerate(fields.items()):
        prefix = ("{" if position == 0 else ", ") + json.dumps(key) + ": "
        pieces.append((codes, prefix + texts + ("}" if position == len(fields) - 1 else "")))
    return _join_rows(pieces, len(pieces[0][0]))


def fatigue_context_json(frame, score):
    days_rest = safe_int(frame["days_rest"], 0)
    b2b = safe_bool(frame["back_to_back"], False)
    games = safe_int(frame["games_in_last_7_days"], 0)
    minutes = safe_float(frame["minutes_in_last_7_days"], 0.0)
    age = safe_int(frame["player_age"], 25)
    return _context(frame, {
        "days_rest": json_codes(days_rest),
        "back_to_back": json_codes(b2b),
        "games_last_7": json_codes(games),
        "minutes_last_7": json_codes(minutes),
        "avg_minutes_pg_last_7": json_codes(safe_float(frame["avg_minutes_per_game_last_7"], 0.0)),
        "back_to_backs_last_14": json_codes(safe_int(frame["back_to_backs_last_14_days"], 0)),
        "player_age": json_codes(age),
        "penalties_applied": json_label_lists({
            "back_to_back: -15": b2b, "frequent_games: -10": games >= 4,
            "heavy_minutes: -10": minutes > 240, "veteran_age: -10": age >= 35,
        }),
        "bonuses_applied": json_label_lists({"extra_rest: +5": days_rest >= 3}),
        "final_score": json_codes(score.astype("int64")),
    })


def _context(frame, fields):
    return pd.Series(json_records(fields), index=frame.index, dtype=object)


def _three_way(values, above, below, labels):
    return pd.Series(np.select([values > above, values < below], labels[:2], labels[2]), index=values.index,
                     dtype=object)


def shot_zone_context_json(frame, score):
    context = _context(frame, {
        "player_primary_zone": json_codes(frame["primary_scoring_zone"].astype(object).where(
            frame["primary_scoring_zone"].notna(), "unknown")),
        "primary_zone_frequency": json_codes(safe_float(_zone_pick(frame, ZONE_RATE_COLUMNS), 0.0)),
        "opponent_weak_zone": json_codes(
            frame["weakest_zone"].astype(object).where(frame["weakest_zone"].notna(), "unknown")),
        "opponent_defense_vs_league": json_codes(safe_float(_zone_pick(frame, ZONE_DEFENSE_COLUMNS), 0.0)),
        "mismatch_type": json_codes(_three_way(score, 2.0, -2.0, ["favorable", "unfavorable", "neutral"])),
        "final_score": json_codes(score.astype("float64")),
    })
    return context.where(has_zone_rows(frame), json.dumps({"missing_data": True}))


def pace_context_json(frame, score):
    diff = safe_float(frame["pace_differential"], 0.0)
    return _context(frame, {
        "pace_differential": json_codes(diff),
        "opponent_pace_last_10": json_codes(safe_float(frame["opponent_pace_last_10"], 100.0)),
        "league_avg_pace": json_codes(pd.Series(LEAGUE_AVG_PACE, index=frame.index)),
        "pace_environment": json_codes(_three_way(diff, 2.0, -2.0, ["fast", "slow", "normal"])),
        "final_score": json_codes(score.astype("float64")),
    })


def usage_context_json(frame, score):
    projected = safe_float(frame["projected_usage_rate"], 0.0)
    baseline = safe_float(frame["avg_usage_rate_last_7_games"], 0.0)
    return _context(frame, {
        "projected_usage_rate": json_codes(projected),
        "avg_usage_last_7": json_codes(baseline),
        "usage_differential": json_codes(projected - baseline),
        "star_teammates_out": json_codes(safe_int(frame["star_teammates_out"], 0)),
        "usage_trend": json_codes(_three_way(projected - baseline, 2.0, -2.0, ["spike", "drop", "stable"])),
        "final_score": json_codes(score.astype("float64")),
    })


# --------------------------------------------------------------------------------------------
# Readiness, completeness and flags (docs/decisions.md#early-season, #completeness)
# --------------------------------------------------------------------------------------------


def readiness_fields(frame):
    """Upstream flags, all_upstreams_ready, is_production_ready and data_quality_issues."""
    own_ready = safe_bool(frame["own_data_ready"], False)
    flags = {name: safe_bool(frame[name], False) for name in UPSTREAM_FLAGS}
    all_ready = flags["upstream_player_shot_ready"] & flags["upstream_team_defense_ready"] \
        & flags["upstream_player_context_ready"] & flags["upstream_team_context_ready"]
    issues = {"own_data_incomplete": ~own_ready}
    issues.update({label: ~flags[name] for name, label in UPSTREAM_FLAGS.items()})
    return pd.DataFrame({
        "is_production_ready": own_ready & all_ready,
        **flags,
        "all_upstreams_ready": all_ready,
        "data_quality_issues": _label_lists(issues),
    }, index=frame.index)


def season_fields(frame):
    early = safe_bool(frame["early_season_flag"], False)
    return pd.DataFrame({
        "early_season_flag": early,
        "insufficient_data_reason": pd.Series(np.where(early, EARLY_SEASON_REASON, None), index=frame.index,
                                              dtype=object),
        "season_boundary_detected": safe_bool(frame["season_boundary_detected"], False),
        "backfill_bootstrap_mode": safe_bool(frame["backfill_bootstrap_mode"], False),
    }, index=frame.index)


def completeness_fields(frame):
    counts = ["expected_games_count", "actual_games_count", "missing_games_count"]
    fields = {name: pd.to_numeric(frame[name], errors="coerce").astype("Int64") for name in counts}
    fields["completeness_percentage"] = round_half_away(
        pd.to_numeric(frame["completeness_percentage"], errors="coerce"), 1)
    return pd.DataFrame(fields, index=frame.index)


def source_fields(frame):
    fields = {}
    for prefix in SOURCE_PREFIXES:
        fields[f"{prefix}_last_updated"] = pd.to_datetime(frame[f"{prefix}_last_updated"], utc=True)
        fields[f"{prefix}_rows_found"] = pd.to_numeric(frame[f"{prefix}_rows_found"], errors="coerce").astype("Int64")
        fields[f"{prefix}_completeness_pct"] = round_half_away(
            pd.to_numeric(frame[f"{prefix}_completeness_pct"], errors="coerce"), 2)
        fields[f"{prefix}_hash"] = frame[f"{prefix}_hash"]
    return pd.DataFrame(fields, index=frame.index)


# --------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------


def normalise_inputs(inputs):
    """game_date as a date-only timestamp whatever the engine returned (pandas 3: DATE -> TIMESTAMP)."""
    return inputs.assign(game_date=pd.to_datetime(inputs["game_date"]).dt.normalize()).reset_index(drop=True)


def compute_factors(inputs, now=None):
    """Every output column for each input row, in output order (the merge adds data_hash)."""
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    frame = normalise_inputs(inputs)
    fatigue = fatigue_score(frame)
    zone, pace, usage = shot_zone_mismatch_score(frame), pace_score(frame), usage_spike_score(frame)
    total = total_adjustment(fatigue_adjustment(fatigue), zone, pace, usage)
    out = frame[["player_lookup", "universal_player_id", "game_date", "game_id"]].assign(
        analysis_date=frame["game_date"],
        fatigue_score=fatigue,
        shot_zone_mismatch_score=round_half_away(zone, 1),
        pace_score=round_half_away(pace, 1),
        usage_spike_score=round_half_away(usage, 1),
        **{name: 0.0 for name in DEFERRED_FACTORS},
        total_composite_adjustment=round_half_away(total, 2),
        fatigue_context_json=fatigue_context_json(frame, fatigue),
        shot_zone_context_json=shot_zone_context_json(frame, zone),
        pace_context_json=pace_context_json(frame, pace),
        usage_context_json=usage_context_json(frame, usage),
        calculation_version=CALCULATION_VERSION,
    )
    out = pd.concat([out, data_quality_fields(frame), warning_fields(fatigue, zone, total), source_fields(frame),
                     season_fields(frame), completeness_fields(frame), readiness_fields(frame)], axis=1)
    out = out.assign(processing_decision_reason=PROCESSING_DECISION, input_fingerprint=frame["input_fingerprint"],
                     code_version=frame["code_version"])
    out["created_at"] = now
    out["processed_at"] = now
    return out[list(OUTPUT_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Incremental: fingerprint skip (docs/python_model_contract.md)
# --------------------------------------------------------------------------------------------


def read_stored_rows(dbt, session, inputs):
    """Stored rows of the input's date range (empty when not incremental or no input)."""
    if not dbt.is_incremental or inputs.empty:
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    stored = read_window(session, dbt.this, "game_date", inputs["game_date"].min(), inputs["game_date"].max())
    stamps = {name: pd.to_datetime(stored[name], utc=True)
              for name, kind in OUTPUT_COLUMNS.items() if kind == "timestamp with time zone"}
    return stored.assign(game_date=pd.to_datetime(stored["game_date"]).dt.normalize(), **stamps)


def split_by_fingerprint(inputs, stored):
    """(stored rows to reuse unchanged, input rows to compute): a stored row is reused when its
    key and non-NULL input_fingerprint equal the input's."""
    keys = KEY_COLUMNS + ["input_fingerprint"]
    if not set(OUTPUT_COLUMNS) <= set(stored.columns):  # stored by an older schema: recompute
        return pd.DataFrame(columns=list(OUTPUT_COLUMNS)), inputs
    known = stored.loc[stored["input_fingerprint"].notna(), keys].drop_duplicates()
    if known.empty:
        return stored.iloc[0:0], inputs
    flagged = inputs[keys].merge(known, on=keys, how="left", indicator=True)
    unchanged = flagged["_merge"].eq("both").to_numpy()
    reused = stored.merge(inputs.loc[unchanged, keys], on=keys, how="inner")
    return reused, inputs.loc[~unchanged]


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="merge",
        unique_key=["player_lookup", "game_date"],
        window_column="game_date",
        written_at_column="processed_at",
        on_schema_change="append_new_columns",
        partitioned_by="game_date",  # dbt-duckdb reads this before partition_by (it rejects the BigQuery dict)
        partition_by={"field": "game_date", "data_type": "date", "granularity": "day"},
        cluster_by=["player_lookup", "universal_player_id", "game_date"],
        packages=["pandas", "numpy"],
    )
    inputs = normalise_inputs(to_pandas(dbt.ref("int_player_composite_factors__inputs")))
    reused, pending = split_by_fingerprint(inputs, read_stored_rows(dbt, session, inputs))
    computed = compute_factors(pending)
    frames = [part for part in (reused[list(OUTPUT_COLUMNS)], computed) if len(part)]
    output = pd.concat(frames, ignore_index=True) if frames else computed
    return to_engine(output, session, OUTPUT_COLUMNS)
