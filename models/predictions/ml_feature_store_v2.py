"""ml_feature_store_v2 (nba_predictions): one 25-feature vector per player per game date.

The story of the table, top-down:

1. Input: `int_ml_feature_store__inputs` (SQL) holds one prepared row per (player_lookup, game_date)
   of the run window: the upcoming-game context, the four Phase 4 upstream rows (daily cache,
   composite factors, shot zones, opponent team defence), the Phase 3 fallbacks computed from the
   player's last 10 *played* games before the date, completeness and per-entity source tracking,
   and an `input_fingerprint` of all of it.
2. Tier fallback per feature: the first non-NULL tier wins, in the order Phase 4 (labelled
   `phase4`), Phase 3 (`phase3`), default (`default`); a NULL never hides a lower tier
   (decision 10, clarification 7; fixes legacy B3/B12). Features 15-17 are always `phase3`.
3. Six calculated features (`calculated`): rest_advantage, injury_risk, recent_trend (sign fixed:
   positive when the newest 3 games beat the 2 before them, clarification 8 / legacy B4),
   minutes_change, pct_free_throw and team_win_pct (computed, not the legacy constant 0.5, B1).
   NULL inputs never crash and never become NaN features (B15).
4. Quality: mean of per-feature weights (phase4 100, phase3 75, calculated 100, default 40), 2 dp;
   `data_source` from the Phase 4 / Phase 3 shares; `quality_tier` gold/silver/bronze/poor/unusable.
5. Early season (decision 3): dates in days 0-13 of their season get placeholder rows (25 NULL
   features, quality 0, data_source 'early_season', quality_tier NULL); other rows have
   early_season_flag FALSE, never NULL.
6. Schema (decision 11): legacy columns plus quality_tier, minus the circuit-breaker bookkeeping;
   values rounded half away from zero to the legacy scale. `data_hash` (row_hash, twin of the SQL
   macro) drives the merge macro's write skipping; `input_fingerprint` lets an incremental run reuse
   stored rows whose inputs did not change (decision 6).
"""

import hashlib
import time

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
        "data_hash": "varchar",
        "created_at": "timestamp with time zone",
        "updated_at": "timestamp with time zone",
    }
)

# data_hash covers every business column (not write bookkeeping, timings or source timestamps).
HASH_EXCLUDED = {f"{source}_last_updated" for source in SOURCES} | {
    "feature_generation_time_ms",
    "input_fingerprint",
    "data_hash",
    "created_at",
    "updated_at",
}
HASH_KIND_BY_TYPE = {
    "varchar": "string",
    "bigint": "int",
    "boolean": "bool",
    "decimal(5,2)": "float",
    "double": "float",
    "date": "date",
    "double[]": "float_array",
    "varchar[]": "string_array",
}
HASH_COLUMNS = {
    name: HASH_KIND_BY_TYPE[kind] for name, kind in OUTPUT_TYPES.items() if name not in HASH_EXCLUDED
}

# ---------------------------------------------------------------------------------------------------
# Contract helpers (docs/python_model_contract.md), identical in every Python model
# ---------------------------------------------------------------------------------------------------

NULL_TOKEN = "<null>"
HASH_KINDS = ("string", "int", "bool", "float", "date", "timestamp", "float_array", "string_array")
HASH_CHUNK_ROWS = 50_000  # rows rendered at a time: bounds the memory of the per-column texts
_BOOL_TEXTS = np.array(["false", "true"], dtype=object)


def _round_half_away(values):
    """float64 values rounded half away from zero to whole numbers, as int64. Exact: the fraction
    is compared with 0.5 (x + 0.5 is never formed). Beyond BIGINT, like the SQL cast: OverflowError."""
    values = np.asarray(values, dtype="float64")
    magnitude = np.abs(values)
    whole = np.floor(magnitude)
    whole += (magnitude - whole) >= 0.5
    if not (whole < 2.0 ** 63).all():
        raise OverflowError("row hash: a value is NaN, infinite or beyond the BIGINT range")
    whole = whole.astype("int64")
    return np.where(values >= 0, whole, -whole)


def _texts_by_value(values, render):
    """render(distinct values) -> their texts; the text of every value (object array), each
    distinct value rendered once."""
    codes, uniques = pd.factorize(values)
    return np.asarray(render(np.asarray(uniques)), dtype=object)[codes]


def _as_objects(texts):
    result = np.empty(len(texts), dtype=object)
    result[:] = texts
    return result


def _hash_values(present, kind):
    """Texts of NULL-free values (a Series) of one kind, as an object array (see the table above)."""
    if kind == "string":
        return _as_objects(list(map(str, present.to_numpy(dtype=object))))
    if kind == "bool":
        return _BOOL_TEXTS[present.to_numpy(dtype=bool).astype(np.intp)]
    if kind == "int":
        if present.dtype.kind in "iub":
            ints = present.to_numpy(dtype="int64")
        elif present.dtype.kind == "f":
            floats = present.to_numpy(dtype="float64")
            if not (np.abs(floats) < 2.0 ** 63).all():
                raise OverflowError("row hash: a value is infinite or beyond the BIGINT range")
            ints = floats.astype("int64")  # truncates toward zero, as int()
        else:
            ints = present.to_numpy(dtype=object).astype("int64")
        return _texts_by_value(ints, lambda unique: unique.astype(str))
    if kind == "float":
        floats = present.to_numpy(dtype="float64")
        return _texts_by_value(floats, lambda unique: _round_half_away(unique * 1e6).astype(str))
    if kind == "date":
        stamps = pd.to_datetime(present)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_localize(None)  # the local calendar date, as Timestamp.strftime
        days = stamps.to_numpy().astype("datetime64[D]")
        return _texts_by_value(days.view("int64"), lambda unique: unique.view("datetime64[D]").astype(str))
    if kind == "timestamp":
        stamps = pd.to_datetime(present, utc=True).dt.tz_localize(None).to_numpy()
        unit = np.datetime_data(stamps.dtype)[0]
        ticks = stamps.view("int64")
        micros = ticks // 1000 if unit == "ns" else ticks * {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
        return _texts_by_value(micros, lambda unique: unique.astype(str))
    # float_array / string_array: rows grouped by length, element j of every row rendered as a column
    element_kind = "float" if kind == "float_array" else "string"
    arrays = present.to_numpy(dtype=object)
    lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
    texts = np.empty(len(arrays), dtype=object)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        if length == 0:
            texts[rows] = "[]"
            continue
        try:
            matrix = np.array(list(arrays[rows]), dtype="float64" if element_kind == "float" else object)
        except (TypeError, ValueError):
            matrix = np.array(list(arrays[rows]), dtype=object)
        matrix = matrix.reshape(len(rows), int(length))
        columns = [_hash_texts(pd.Series(matrix[:, j]), element_kind) for j in range(int(length))]
        texts[rows] = _as_objects(list(map("[{}]".format, map(",".join, zip(*columns)))))
    return texts


def _hash_texts(values, kind):
    """Text of each value of one column (a Series) for the row hash, as an object array; NULL
    (None, NaN, NaT, pd.NA) is NULL_TOKEN."""
    if kind not in HASH_KINDS:
        raise ValueError(f"unknown hash kind {kind!r}")
    missing = values.isna().to_numpy(dtype=bool)
    if not missing.any():
        return _hash_values(values, kind)
    texts = np.full(len(values), NULL_TOKEN, dtype=object)
    if not missing.all():
        texts[~missing] = _hash_values(values[~missing], kind)
    return texts


def hash_text(value, kind):
    """Text of one value for the row hash (the column rendering applied to a one-value column)."""
    return _hash_texts(pd.Series([value], dtype=object), kind)[0]


def row_hash(frame, columns):
    """md5 hex of each row's values; `columns` maps column name -> kind, in hashing order. Columns
    are rendered vectorised; each row's texts are joined with '|' (str.join) and hashed."""
    hashes = []
    for start in range(0, len(frame), HASH_CHUNK_ROWS):
        chunk = frame.iloc[start:start + HASH_CHUNK_ROWS]
        parts = [_hash_texts(chunk[name], kind) for name, kind in columns.items()]
        hashes += [hashlib.md5(text.encode("utf-8")).hexdigest() for text in map("|".join, zip(*parts))]
    return pd.Series(hashes, index=frame.index, dtype=object)


def round_half_away(values, scale):
    """Round a float Series half away from zero to `scale` decimals (NaN stays NaN)."""
    factor = 10.0 ** scale
    scaled = values.astype("float64") * factor
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / factor


def to_pandas(relation):
    """dbt.ref(...) -> pandas: DuckDB relation (.df()), Spark (.toPandas()), BigFrames (.to_pandas())."""
    for method in ("df", "toPandas", "to_pandas"):
        if hasattr(relation, method):
            return getattr(relation, method)()
    raise TypeError(f"cannot convert {type(relation).__name__} to pandas")


def is_duckdb(session):
    # duckdb 2.x defines its connection class in the extension module `_duckdb`, so the leading
    # underscore is stripped (the contract's `== "duckdb"` alone is False for a real connection).
    return type(session).__module__.split(".")[0].lstrip("_") == "duckdb"


def to_engine(frame, session, column_types):
    """Return the output with legacy types. On DuckDB: a relation that casts every column to its
    declared type (dates stay DATE, NUMERIC(p,s) stay DECIMAL, arrays stay lists); elsewhere: pandas
    with date columns as datetime.date objects."""
    frame = frame[list(column_types)]
    if is_duckdb(session):
        view = f"to_engine_{id(frame)}"
        session.register(view, frame)
        casts = ", ".join(f'cast("{name}" as {kind}) as "{name}"' for name, kind in column_types.items())
        return session.sql(f"select {casts} from {view}")
    frame = frame.copy()
    for name, kind in column_types.items():
        if kind == "date":
            frame[name] = pd.to_datetime(frame[name]).dt.date
    return frame


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
    rows = len(_as_float(candidates[0][0]))
    values = np.full(rows, float(default))
    labels = np.full(rows, "default", dtype=object)
    for candidate, label in reversed(candidates):
        candidate = _as_float(candidate)
        present = ~np.isnan(candidate)
        values = np.where(present, candidate, values)
        labels = np.where(present, label, labels)
    return values, labels


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
    (the legacy sign was inverted, clarification 8).
    """
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    pts = np.nan_to_num(np.asarray(points, dtype="float64").reshape(len(games), 5), nan=0.0)
    newest = (pts[:, 0] + pts[:, 1] + pts[:, 2]) / 3
    older = (pts[:, 3] + pts[:, 4]) / 2
    return np.where(games >= 5, _bucket(newest - older, 5.0, 2.0), 0.0)


def minutes_change(cache_minutes_last_10, phase3_minutes_last_10, games_played, season_minutes):
    """Recent minutes vs season minutes: +/-20% -> +/-2, +/-10% -> +/-1; 0.0 when either is 0."""
    cache = _as_float(cache_minutes_last_10)
    phase3 = _as_float(phase3_minutes_last_10)
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    recent = np.where(~np.isnan(cache), cache, np.where(games >= 1, np.nan_to_num(phase3, nan=0.0), 0.0))
    season = np.nan_to_num(_as_float(season_minutes), nan=0.0)
    usable = (recent != 0) & (season != 0)
    pct = np.where(usable, recent - season, 0.0) / np.where(usable, season, 1.0)
    return np.where(usable, _bucket(pct, 0.20, 0.10), 0.0)


def pct_free_throw(games_played, points_sum, ft_makes_sum):
    """FT makes / points over the last 10 played games, clamped to [0, 0.5]; 0.15 if < 5 games or 0 points."""
    games = np.nan_to_num(_as_float(games_played), nan=0.0)
    points = np.nan_to_num(_as_float(points_sum), nan=0.0)
    makes = np.nan_to_num(_as_float(ft_makes_sum), nan=0.0)
    usable = (games >= 5) & (points != 0)
    share = np.clip(makes / np.where(usable, points, 1.0), 0.0, 0.5)
    return np.where(usable, share, DEFAULTS["pct_free_throw"])


def team_win_pct(team_games, team_wins):
    """Wins / games of the team's season before the date; 0.5 below 5 games (decision 10)."""
    games = np.nan_to_num(_as_float(team_games), nan=0.0)
    wins = np.nan_to_num(_as_float(team_wins), nan=0.0)
    usable = games >= 5
    return np.where(usable, wins / np.where(usable, games, 1.0), DEFAULTS["team_win_pct"])


def assemble_features(inputs):
    """Returns (features n x 25 float64, labels n x 25) in FEATURE_NAMES order."""
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
            value, label = select_tier(candidates, DEFAULTS[name])
        elif name in calculated:
            value, label = calculated[name], np.full(len(inputs), "calculated", dtype=object)
        else:
            value, label = game_context[name], np.full(len(inputs), "phase3", dtype=object)
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


def _label_matrix(labels):
    matrix = np.asarray(labels, dtype=object)
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix


def quality_score(labels):
    """Mean of the per-feature weights, rounded half away to 2 dp; 0.0 for an empty label set."""
    matrix = _label_matrix(labels)
    if matrix.shape[1] == 0:
        return np.zeros(matrix.shape[0])
    weights = np.full(matrix.shape, UNKNOWN_WEIGHT)
    for label, weight in WEIGHTS.items():
        weights[matrix == label] = weight
    return round_half_away(pd.Series(weights.sum(axis=1) / matrix.shape[1]), 2).to_numpy()


def data_source(labels):
    """phase4 (>= 90% Phase 4), phase4_partial (>= 50%), phase3 (>= 50% Phase 3), else mixed."""
    matrix = _label_matrix(labels)
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], "unknown", dtype=object)
    phase4 = (matrix == "phase4").sum(axis=1) / matrix.shape[1]
    phase3 = (matrix == "phase3").sum(axis=1) / matrix.shape[1]
    return np.select(
        [phase4 >= 0.90, phase4 >= 0.50, phase3 >= 0.50], ["phase4", "phase4_partial", "phase3"], "mixed"
    ).astype(object)


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
    return pd.DataFrame(columns, index=inputs.index)


def _constant(inputs, value):
    return pd.Series([value] * len(inputs), index=inputs.index, dtype=object)


def feature_rows(inputs):
    """Output rows (without hash, timing and timestamps) of the rows past the early season."""
    features, labels = assemble_features(inputs)
    scores = quality_score(labels)
    rows = _context_columns(inputs)
    rows["features"] = pd.Series(list(features), index=inputs.index, dtype=object)
    rows["feature_names"] = _constant(inputs, list(FEATURE_NAMES))
    rows["feature_count"] = FEATURE_COUNT
    rows["feature_version"] = FEATURE_VERSION
    rows["feature_quality_score"] = scores
    rows["quality_tier"] = quality_tier(scores)
    rows["data_source"] = data_source(labels)
    rows["early_season_flag"] = False
    rows["insufficient_data_reason"] = None
    rows = rows.join(readiness_fields(inputs))
    rows["processing_decision_reason"] = "processed_successfully"
    return rows


def placeholder_rows(inputs):
    """Early-season placeholders (decision 3): 25 NULL features, quality 0, data_source early_season."""
    rows = _context_columns(inputs)
    nulls = np.full((len(inputs), FEATURE_COUNT), np.nan)  # NaN elements are written as NULL
    rows["features"] = pd.Series(list(nulls), index=inputs.index, dtype=object)
    rows["feature_names"] = _constant(inputs, list(FEATURE_NAMES))
    rows["feature_count"] = FEATURE_COUNT
    rows["feature_version"] = FEATURE_VERSION
    rows["feature_generation_time_ms"] = pd.Series(pd.NA, index=inputs.index, dtype="Int64")
    rows["feature_quality_score"] = 0.0
    rows["quality_tier"] = None
    rows["data_source"] = "early_season"
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


def build_rows(inputs):
    """Every output column for every input row, sorted by (player_lookup, game_date)."""
    started = time.perf_counter()
    early = _flags(inputs, "early_season_flag")
    computed = feature_rows(inputs[~early])
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    computed["feature_generation_time_ms"] = pd.Series(
        int(elapsed_ms / len(computed)) if len(computed) else 0, index=computed.index, dtype="Int64"
    )
    parts = [part for part in (computed, placeholder_rows(inputs[early])) if len(part)]
    rows = pd.concat(parts) if parts else computed
    rows = rows.sort_values(KEY, kind="stable").reset_index(drop=True)
    rows["data_hash"] = row_hash(rows, HASH_COLUMNS) if len(rows) else pd.Series([], dtype=object)
    now = pd.Timestamp.now(tz="UTC")
    rows["created_at"] = pd.Series(now, index=rows.index, dtype="datetime64[us, UTC]")
    rows["updated_at"] = pd.Series(now, index=rows.index, dtype="datetime64[us, UTC]")
    return rows[list(OUTPUT_TYPES)]


# ---------------------------------------------------------------------------------------------------
# Incremental: fingerprint skip
# ---------------------------------------------------------------------------------------------------


def unique_inputs(inputs):
    """game_date as DATE values and one row per key (smallest game_id wins; decision 9)."""
    inputs = inputs.assign(game_date=_dates(inputs, "game_date"))
    order = [column for column in KEY + ["game_id"] if column in inputs.columns]
    inputs = inputs.sort_values(order, kind="stable", na_position="last")
    return inputs.drop_duplicates(KEY, keep="first").reset_index(drop=True)


def read_stored_rows(session, this, inputs):
    """Stored rows of the input's dates (range between min and max)."""
    dates = [value for value in inputs["game_date"] if value is not None]
    query = (
        f"select * from {this} where game_date between cast('{min(dates).isoformat()}' as date)"
        f" and cast('{max(dates).isoformat()}' as date)"
    )
    return to_pandas(session.sql(query))


def _is_missing(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


def _float_list(value):
    return None if _is_missing(value) else np.ma.filled(np.ma.asarray(value, dtype="float64"), np.nan)


def _string_list(value):
    return None if _is_missing(value) else [None if _is_missing(item) else str(item) for item in list(value)]


def split_unchanged(inputs, stored):
    """(stored rows to return unchanged, inputs to compute): a stored row is reused when its
    input_fingerprint equals the input's."""
    if len(stored) == 0 or not set(OUTPUT_TYPES) <= set(stored.columns):
        return stored.iloc[0:0], inputs
    stored = stored.assign(game_date=_dates(stored, "game_date")).drop_duplicates(KEY, keep="last")
    probe = inputs.loc[inputs["input_fingerprint"].notna(), KEY + ["input_fingerprint"]]
    reused = probe.merge(stored[stored["input_fingerprint"].notna()], on=KEY + ["input_fingerprint"])
    reused = reused[list(OUTPUT_TYPES)].assign(
        features=reused["features"].map(_float_list),
        feature_names=reused["feature_names"].map(_string_list),
        data_quality_issues=reused["data_quality_issues"].map(_string_list),
        **{name: _timestamps(reused, name) for name, kind in OUTPUT_TYPES.items() if kind.startswith("timestamp")},
    )
    done = inputs[KEY].merge(reused[KEY], on=KEY, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    return reused, inputs[~done]


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="merge",
        unique_key=["player_lookup", "game_date"],
        window_column="game_date",
        written_at_column="updated_at",
        written_at_on_insert=False,
        on_schema_change="append_new_columns",
        partitioned_by="game_date",
        partition_by={"field": "game_date", "data_type": "date", "granularity": "day"},
        cluster_by=["player_lookup", "feature_version", "game_date"],
        packages=["pandas", "numpy"],
    )
    inputs = unique_inputs(to_pandas(dbt.ref("int_ml_feature_store__inputs")))
    reused = None
    if dbt.is_incremental and len(inputs) > 0:
        reused, inputs = split_unchanged(inputs, read_stored_rows(session, dbt.this, inputs))
    output = build_rows(inputs)
    if reused is not None and len(reused) > 0:
        output = pd.concat([reused, output] if len(output) else [reused])
        output = output.sort_values(KEY, kind="stable").reset_index(drop=True)
    return to_engine(output, session, OUTPUT_TYPES)
