"""pytest suite of models/predictions/ml_feature_store_v2.py (imported by path, no dbt needed).

Expectations are computed by hand. Legacy cases come from the legacy test suite's edge cases; where
the new project changes behaviour (recent_trend sign, team_win_pct, per-feature fallback) each test
says so.
"""

import csv
import datetime as dt
import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
MODEL_PATH = ROOT / "models" / "predictions" / "ml_feature_store_v2.py"
SEED_PATH = ROOT / "seeds" / "feature_versions.csv"


def _load_model():
    spec = importlib.util.spec_from_file_location("ml_feature_store_v2", MODEL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


m = _load_model()

NAMES = [
    "points_avg_last_5", "points_avg_last_10", "points_avg_season", "points_std_last_10",
    "games_in_last_7_days", "fatigue_score", "shot_zone_mismatch_score", "pace_score",
    "usage_spike_score", "rest_advantage", "injury_risk", "recent_trend", "minutes_change",
    "opponent_def_rating", "opponent_pace", "home_away", "back_to_back", "playoff_game",
    "pct_paint", "pct_mid_range", "pct_three", "pct_free_throw", "team_pace", "team_off_rating",
    "team_win_pct",
]  # fmt: skip

ALL_ISSUES = [
    "upstream_player_daily_cache_incomplete",
    "upstream_player_composite_factors_incomplete",
    "upstream_player_shot_zone_incomplete",
    "upstream_team_defense_zone_incomplete",
]


def full_row(**overrides):
    """A realistic player row with every Phase 4 value present (Phase 3 values present but hidden)."""
    row = {
        "player_lookup": "lebronjames",
        "universal_player_id": "lebronjames_001",
        "game_id": "20250115_LAL_GSW",
        "game_date": pd.Timestamp("2025-01-15"),  # arrives as datetime64 with pandas 3
        "team_abbr": "LAL",
        "opponent_team_abbr": "GSW",
        "is_home": False,
        "back_to_back": False,
        "season_phase": "mid",
        "days_rest": 1,
        "opponent_days_rest": 2,
        "player_status": "available",
        "early_season_flag": False,
        "season_boundary_detected": False,
        "backfill_bootstrap_mode": False,
        "has_daily_cache_row": True,
        "pdc_points_avg_last_5": 25.2,
        "pdc_points_avg_last_10": 24.8,
        "pdc_points_avg_season": 24.5,
        "pdc_points_std_last_10": 4.23,
        "pdc_games_in_last_7_days": 3,
        "pdc_paint_rate_last_10": 40.0,
        "pdc_three_pt_rate_last_10": 30.0,
        "pdc_minutes_avg_last_10": 34.0,
        "pdc_team_pace_last_10": 99.8,
        "pdc_team_off_rating_last_10": 115.2,
        "daily_cache_ready": True,
        "has_composite_row": True,
        "pcf_fatigue_score": 75,
        "pcf_shot_zone_mismatch_score": 3.5,
        "pcf_pace_score": 1.5,
        "pcf_usage_spike_score": 0.8,
        "composite_ready": True,
        "has_shot_zone_row": True,
        "psza_paint_rate_last_10": 35.0,
        "psza_mid_range_rate_last_10": 20.0,
        "psza_three_pt_rate_last_10": 45.0,
        "shot_zone_ready": True,
        "has_team_defense_row": True,
        "tdza_defensive_rating_last_15": 110.5,
        "tdza_opponent_pace": 101.2,
        "team_defense_ready": True,
        "p3_games_last_10": 10,
        "p3_points_avg_last_5": 24.0,
        "p3_points_avg_last_10": 25.0,
        "p3_points_std_last_10": 3.9,
        "p3_points_avg_season": 23.0,
        "p3_minutes_avg_season": 34.0,
        "p3_minutes_avg_last_10": 33.0,
        "p3_points_sum_last_10": 250,
        "p3_ft_makes_sum_last_10": 50,
        # newest first: newest 3 average 22, games 4-5 average 27 -> diff -5 -> -2 (declining form)
        "p3_points_1": 20,
        "p3_points_2": 22,
        "p3_points_3": 24,
        "p3_points_4": 26,
        "p3_points_5": 28,
        "p3_paint_share_last_10": 0.41,
        "p3_mid_range_share_last_10": 0.19,
        "p3_three_share_last_10": 0.40,
        "p3_games_in_last_7_days": 2,
        "p3_opponent_def_rating": 111.0,
        "p3_opponent_pace": 99.0,
        "p3_team_pace_last_10": 98.0,
        "p3_team_off_rating_last_10": 113.0,
        "team_season_games": 20,
        "team_season_wins": 14,
        "expected_games_count": 10,
        "actual_games_count": 9,
        "completeness_percentage": 90.0,
        "missing_games_count": 1,
        "own_data_ready": True,
        "input_fingerprint": "fp-lebron-1",
        "code_version": "code-v1",
    }
    for source, stamp in zip(m.SOURCES, ["2025-01-15 08:00:00", "2025-01-15 08:05:00", "2025-01-15 07:00:00", "2025-01-15 07:30:00"]):
        row[f"{source}_last_updated"] = pd.Timestamp(stamp, tz="UTC")
        row[f"{source}_rows_found"] = 10
        row[f"{source}_completeness_pct"] = 100.0
        row[f"{source}_hash"] = f"hash-{source}"
    row.update(overrides)
    return row


PHASE4_AND_PHASE3_COLUMNS = [
    "pdc_points_avg_last_5", "pdc_points_avg_last_10", "pdc_points_avg_season", "pdc_points_std_last_10",
    "pdc_games_in_last_7_days", "pdc_paint_rate_last_10", "pdc_three_pt_rate_last_10",
    "pdc_minutes_avg_last_10", "pdc_team_pace_last_10", "pdc_team_off_rating_last_10",
    "pcf_fatigue_score", "pcf_shot_zone_mismatch_score", "pcf_pace_score", "pcf_usage_spike_score",
    "psza_paint_rate_last_10", "psza_mid_range_rate_last_10", "psza_three_pt_rate_last_10",
    "tdza_defensive_rating_last_15", "tdza_opponent_pace",
    "p3_points_avg_last_5", "p3_points_avg_last_10", "p3_points_std_last_10", "p3_points_avg_season",
    "p3_minutes_avg_season", "p3_minutes_avg_last_10", "p3_points_sum_last_10", "p3_ft_makes_sum_last_10",
    "p3_points_1", "p3_points_2", "p3_points_3", "p3_points_4", "p3_points_5",
    "p3_paint_share_last_10", "p3_mid_range_share_last_10", "p3_three_share_last_10",
    "p3_games_in_last_7_days", "p3_opponent_def_rating", "p3_opponent_pace",
    "p3_team_pace_last_10", "p3_team_off_rating_last_10",
]  # fmt: skip


def no_history_row(**overrides):
    """A player (and team, and opponent) with no Phase 4 row and no Phase 3 history at all."""
    row = full_row(
        player_lookup="rookie",
        days_rest=1,
        opponent_days_rest=1,
        is_home=True,
        p3_games_last_10=0,
        team_season_games=0,
        team_season_wins=0,
        daily_cache_ready=False,
        composite_ready=False,
        shot_zone_ready=False,
        team_defense_ready=False,
        own_data_ready=False,
        expected_games_count=0,
        actual_games_count=0,
        completeness_percentage=None,
        missing_games_count=0,
    )
    row.update({column: None for column in PHASE4_AND_PHASE3_COLUMNS})
    row.update(overrides)
    return row


def frame(*rows):
    return pd.DataFrame(list(rows))


def features_of(rows, position=0):
    return [float(v) for v in rows["features"].iloc[position]]


# ---------------------------------------------------------------------------------------------------
# Constants and seed
# ---------------------------------------------------------------------------------------------------


def test_feature_names_are_the_processor_order_and_the_seeds_active_version():
    # Three places must agree: the model's names, the active row of seeds/feature_versions.csv (what
    # the prediction service reads) and the processor order the hand-computed vectors of this file use.
    # (Weights and defaults are checked through the scores and vectors they produce, below.)
    with SEED_PATH.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    active = [row for row in rows if row["active"] == "true"]
    assert len(active) == 1
    row = active[0]
    assert row["feature_names"].split("|") == m.FEATURE_NAMES == NAMES
    assert (row["feature_version"], int(row["feature_count"])) == (m.FEATURE_VERSION, len(m.FEATURE_NAMES))
    assert row["description"]


def test_output_columns_and_types_in_order():
    assert list(m.OUTPUT_TYPES)[:15] == [
        "player_lookup", "universal_player_id", "game_date", "game_id", "features", "feature_names",
        "feature_count", "feature_version", "feature_generation_time_ms", "feature_quality_score",
        "quality_tier", "opponent_team_abbr", "is_home", "days_rest", "data_source",
    ]  # fmt: skip
    assert list(m.OUTPUT_TYPES)[15:19] == [
        "source_daily_cache_last_updated", "source_daily_cache_rows_found",
        "source_daily_cache_completeness_pct", "source_daily_cache_hash",
    ]  # fmt: skip
    assert list(m.OUTPUT_TYPES)[-15:] == [
        "early_season_flag", "insufficient_data_reason", "expected_games_count", "actual_games_count",
        "completeness_percentage", "missing_games_count", "is_production_ready", "data_quality_issues",
        "season_boundary_detected", "backfill_bootstrap_mode", "processing_decision_reason",
        "input_fingerprint", "code_version", "created_at", "updated_at",
    ]  # fmt: skip
    assert len(m.OUTPUT_TYPES) == 49  # 46 legacy-shaped columns + 3 provenance columns
    assert m.OUTPUT_TYPES["features"] == "double[]"
    assert m.OUTPUT_TYPES["feature_names"] == "varchar[]"
    assert m.OUTPUT_TYPES["feature_quality_score"] == "decimal(5,2)"
    assert m.OUTPUT_TYPES["source_team_defense_completeness_pct"] == "decimal(5,2)"
    assert m.OUTPUT_TYPES["created_at"] == "timestamp with time zone"
    assert not any(name.startswith(("circuit_breaker", "reprocess", "manual_override", "last_reprocess")) for name in m.OUTPUT_TYPES)


# ---------------------------------------------------------------------------------------------------
# Calculated features (legacy test cases)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "days_rest, opponent_days_rest, expected",
    [(2, 0, 2.0), (0, 2, -2.0), (1, 1, 0.0), (5, 0, 2.0), (0, 5, -2.0), (None, 1, 0.0), (1, None, 0.0), (pd.NA, np.nan, 0.0)],
)
def test_rest_advantage(days_rest, opponent_days_rest, expected):
    assert m.rest_advantage([days_rest], [opponent_days_rest]).tolist() == [expected]


def test_rest_advantage_vectorised_with_null_days_rest():
    days = pd.Series([2, None, 3], dtype="Int64")
    opponent = pd.Series([0, 1, None], dtype="Int64")
    assert m.rest_advantage(days, opponent).tolist() == [2.0, 0.0, 0.0]


def test_injury_risk_by_status_case_insensitive_unknown_and_null():
    statuses = ["available", "probable", "questionable", "doubtful", "out", "QUESTIONABLE", "Out", None, "day-to-day", ""]
    assert m.injury_risk(statuses).tolist() == [0.0, 1.0, 2.0, 3.0, 3.0, 2.0, 3.0, 0.0, 0.0, 0.0]


def test_recent_trend_fixed_sign():
    # Legacy expected -2 for [25,24,26,18,17] (inverted sign, docs/decisions.md#legacy-trend-sign). Fixed: newest 3 (avg 25) beat games 4-5
    # (avg 17.5) by 7.5 -> +2.
    assert m.recent_trend([5], [[25, 24, 26, 18, 17]]).tolist() == [2.0]
    # Legacy +2; fixed: newest 3 avg 17 vs 25.5 -> diff -8.5 -> -2.
    assert m.recent_trend([5], [[17, 18, 16, 25, 26]]).tolist() == [-2.0]
    # 22 vs 21.5 -> +0.5 -> 0 (unchanged from legacy).
    assert m.recent_trend([5], [[22, 21, 23, 22, 21]]).tolist() == [0.0]
    # Only 2 games -> 0.
    assert m.recent_trend([2], [[25, 24, None, None, None]]).tolist() == [0.0]


def test_recent_trend_small_buckets_and_null_points():
    # 23 vs 20 -> +3 -> +1; 20 vs 23 -> -3 -> -1; NULL points count as 0: (30+0+30)/3=20 vs 20 -> 0.
    rows = [[23, 23, 23, 20, 20], [20, 20, 20, 23, 23], [30, None, 30, 20, 20]]
    assert m.recent_trend([10, 7, 5], rows).tolist() == [1.0, -1.0, 0.0]
    # Fewer than 5 played games (or NULL count) -> 0 even when the points would give a trend.
    assert m.recent_trend([4, None], [[30, 30, 30, 10, 10], [30, 30, 30, 10, 10]]).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    "cache, phase3, games, season, expected",
    [
        (36.0, None, 10, 28.0, 2.0),  # +28.6% -> +2
        (32.0, None, 10, 28.0, 1.0),  # +14.3% -> +1
        (30.0, None, 10, 30.0, 0.0),
        (24.0, None, 10, 32.0, -2.0),  # -25% -> -2
        (None, 35.3, 10, 30.0, 1.0),  # no daily-cache value: Phase 3 mean 35.3 vs 30 -> +17.7% -> +1
        (None, 35.3, 0, 30.0, 0.0),  # no played games: R = 0 -> 0
        (36.0, None, 10, None, 0.0),  # no season minutes: M = 0 -> 0
        (27.0, None, 10, 30.0, -1.0),  # -10% -> -1
    ],
)
def test_minutes_change(cache, phase3, games, season, expected):
    assert m.minutes_change([cache], [phase3], [games], [season]).tolist() == [expected]


@pytest.mark.parametrize("cache, season, expected", [
    (12.6, 10.5, 2.0),    # +20% exactly; the float ratio is 0.19999999999999996
    (8.4, 10.5, -2.0),    # -20% exactly
    (12.1, 11.0, 1.0),    # +10% exactly; float 0.09999999999999996
    (9.9, 11.0, -1.0),    # -10% exactly
    (12.5, 10.5, 1.0),    # +19.05%: below the +20% threshold
    (8.5, 10.5, -1.0),    # -19.05%
])
def test_minutes_change_compares_the_decimal_ratio_at_its_thresholds(cache, season, expected):
    assert m.minutes_change([cache], [None], [10], [season]).tolist() == [expected]


def test_round_half_away_rounds_the_decimal_value_on_both_sides_of_a_tie():
    values = pd.Series([1.015, -1.015, 94.625, -94.625, 1.0149999, np.nan])
    rounded = m.round_half_away(values, 2)
    assert rounded.iloc[:5].tolist() == [1.02, -1.02, 94.63, -94.63, 1.01]
    assert np.isnan(rounded.iloc[5])


def test_pct_free_throw():
    shares = m.pct_free_throw([10, 10, 1, 5, 5, None], [263, 148, 30, 0, 10, 263], [70, 58, 10, 0, 8, 70])
    assert shares[0] == pytest.approx(70 / 263)
    assert round(shares[0], 3) == 0.266
    assert shares[1] == pytest.approx(58 / 148)
    assert round(shares[1], 3) == 0.392
    assert shares[2] == 0.15  # 1 game
    assert shares[3] == 0.15  # 5 games with 0 points
    assert shares[4] == 0.5  # 8/10 clamped to 0.5
    assert shares[5] == 0.15  # NULL game count = 0 games


def test_team_win_pct_is_computed():
    # docs/decisions.md#team-win-pct: computed (legacy production value was always 0.5).
    assert m.team_win_pct([8, 8, 6, 2, None, 5], [6, 2, 3, 2, None, None]).tolist() == [0.75, 0.25, 0.5, 0.5, 0.5, 0.0]


# ---------------------------------------------------------------------------------------------------
# Tier selection
# ---------------------------------------------------------------------------------------------------


def test_select_tier_first_non_null_wins_and_null_never_hides_a_lower_tier():
    values, labels = m.select_tier(
        [
            (pd.Series([0.35, None, None, None]), "phase4"),
            (pd.Series([0.40, 0.40, None, None]), "phase4"),
            (pd.Series([0.41, 0.41, 0.41, None]), "phase3"),
        ],
        0.30,
    )
    assert values.tolist() == [0.35, 0.40, 0.41, 0.30]
    assert labels.tolist() == ["phase4", "phase4", "phase3", "default"]


def test_shot_zone_null_falls_back_to_daily_cache_then_phase3_then_default():
    rows = frame(
        full_row(player_lookup="a", psza_paint_rate_last_10=None, pdc_paint_rate_last_10=40.0, p3_paint_share_last_10=0.42),
        full_row(player_lookup="b", psza_paint_rate_last_10=None, pdc_paint_rate_last_10=None, p3_paint_share_last_10=0.42),
        full_row(player_lookup="c", psza_paint_rate_last_10=None, pdc_paint_rate_last_10=None, p3_paint_share_last_10=None),
        # mid-range has no daily-cache tier: NULL shot-zone value goes straight to Phase 3
        full_row(player_lookup="d", psza_mid_range_rate_last_10=None, p3_mid_range_share_last_10=0.19),
        full_row(player_lookup="e", psza_three_pt_rate_last_10=None, pdc_three_pt_rate_last_10=30.0),
    )
    features, labels = m.assemble_features(rows)
    paint, mid, three = NAMES.index("pct_paint"), NAMES.index("pct_mid_range"), NAMES.index("pct_three")
    assert features[:3, paint].tolist() == [0.40, 0.42, 0.30]
    assert labels[:3, paint].tolist() == ["phase4", "phase3", "default"]
    assert (features[3, mid], labels[3, mid]) == (0.19, "phase3")
    assert (features[4, three], labels[4, three]) == (0.30, "phase4")


def test_phase3_fallbacks_for_every_feature_phase3_can_provide():
    row = full_row()
    row.update({column: None for column in PHASE4_AND_PHASE3_COLUMNS if not column.startswith("p3_")})
    features, labels = m.assemble_features(frame(row))
    expected = {
        "points_avg_last_5": 24.0, "points_avg_last_10": 25.0, "points_avg_season": 23.0,
        "points_std_last_10": 3.9, "games_in_last_7_days": 2.0, "opponent_def_rating": 111.0,
        "opponent_pace": 99.0, "pct_paint": 0.41, "pct_mid_range": 0.19, "pct_three": 0.40,
        "team_pace": 98.0, "team_off_rating": 113.0,
    }  # fmt: skip
    for name, value in expected.items():
        assert (features[0, NAMES.index(name)], labels[0, NAMES.index(name)]) == (value, "phase3"), name
    # composites have no Phase 3 tier
    for name, value in {"fatigue_score": 50.0, "shot_zone_mismatch_score": 0.0, "pace_score": 0.0, "usage_spike_score": 0.0}.items():
        assert (features[0, NAMES.index(name)], labels[0, NAMES.index(name)]) == (value, "default"), name
    # minutes_change falls back to the Phase 3 recent minutes: 33 vs 34 -> -2.9% -> 0
    assert features[0, NAMES.index("minutes_change")] == 0.0


def test_full_row_features_labels_and_quality():
    rows = m.build_rows(frame(full_row()))
    assert features_of(rows) == [
        25.2, 24.8, 24.5, 4.23, 3.0, 75.0, 3.5, 1.5, 0.8,
        -1.0,  # rest 1 vs 2
        0.0,  # available
        -2.0,  # newest 3 avg 22 vs games 4-5 avg 27 -> -5 -> -2
        0.0,  # 34 vs 34 minutes
        110.5, 101.2,
        0.0, 0.0, 0.0,  # away, no back-to-back, not playoffs
        0.35, 0.20, 0.45,  # shot-zone percents / 100
        0.2,  # 50 / 250
        99.8, 115.2,
        0.7,  # 14 / 20
    ]  # fmt: skip
    row = rows.iloc[0]
    assert row["feature_quality_score"] == 97.0  # 16 phase4 + 3 phase3 + 6 calculated
    assert row["quality_tier"] == "gold"
    assert row["data_source"] == "phase4_partial"  # 16/25 = 0.64
    assert row["feature_names"] == NAMES
    assert row["feature_count"] == 25
    assert row["feature_version"] == "v1_baseline_25"
    assert row["early_season_flag"] is False or row["early_season_flag"] == False  # noqa: E712
    assert row["insufficient_data_reason"] is None
    assert row["processing_decision_reason"] == "processed_successfully"
    assert row["is_production_ready"] == True  # noqa: E712
    assert row["data_quality_issues"] == []
    assert row["game_date"] == dt.date(2025, 1, 15)
    assert row["days_rest"] == 1
    assert row["is_home"] == False  # noqa: E712
    assert row["opponent_team_abbr"] == "GSW"
    assert row["source_daily_cache_hash"] == "hash-source_daily_cache"
    assert row["source_daily_cache_rows_found"] == 10
    assert row["source_daily_cache_completeness_pct"] == 100.0
    assert row["source_composite_last_updated"] == pd.Timestamp("2025-01-15 08:05:00", tz="UTC")
    assert row["input_fingerprint"] == "fp-lebron-1"
    assert isinstance(row["feature_generation_time_ms"], (int, np.integer)) and row["feature_generation_time_ms"] >= 0


def test_game_context_features_home_back_to_back_playoffs():
    rows = frame(
        full_row(player_lookup="a", is_home=True, back_to_back=True, season_phase="Playoffs"),
        full_row(player_lookup="b", is_home=None, back_to_back=None, season_phase=None),
    )
    features, labels = m.assemble_features(rows)
    idx = [NAMES.index("home_away"), NAMES.index("back_to_back"), NAMES.index("playoff_game")]
    assert features[:, idx].tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert labels[:, idx].tolist() == [["phase3"] * 3, ["phase3"] * 3]


def test_player_with_no_history_at_all():
    rows = m.build_rows(frame(no_history_row()))
    assert features_of(rows) == [
        10.0, 10.0, 10.0, 5.0, 3.0, 50.0, 0.0, 0.0, 0.0,  # defaults
        0.0, 0.0, 0.0, 0.0,  # rest 1 vs 1, available, < 5 games, no minutes
        112.0, 100.0,  # defaults
        1.0, 0.0, 0.0,  # home game (phase3)
        0.30, 0.20, 0.35,  # defaults
        0.15,  # < 5 games
        100.0, 112.0,  # defaults
        0.5,  # < 5 team games
    ]  # fmt: skip
    row = rows.iloc[0]
    # 16 default (40) + 3 phase3 (75) + 6 calculated (100) = (640 + 225 + 600) / 25
    assert row["feature_quality_score"] == 58.6
    assert row["quality_tier"] == "bronze"
    assert row["data_source"] == "mixed"
    assert row["is_production_ready"] == False  # noqa: E712
    assert row["data_quality_issues"] == ALL_ISSUES
    assert pd.isna(row["completeness_percentage"])
    assert row["expected_games_count"] == 0


def test_player_with_no_history_but_context_games_in_last_7_days_zero():
    # 0 is a value, not a NULL: feature 4 = 0.0 from Phase 3.
    rows = m.build_rows(frame(no_history_row(p3_games_in_last_7_days=0)))
    assert features_of(rows)[4] == 0.0
    # 15 default + 4 phase3 + 6 calculated = (600 + 300 + 600) / 25
    assert rows["feature_quality_score"].iloc[0] == 60.0


def test_null_inputs_of_every_flavour_never_become_nan():
    rows = frame(
        no_history_row(player_lookup="a", days_rest=None, player_status=None, season_phase=None, is_home=None),
        full_row(player_lookup="b", pdc_points_avg_last_5=np.nan, pcf_fatigue_score=pd.NA, days_rest=pd.NA, p3_points_2=None),
        full_row(player_lookup="c", player_status="unknown", p3_games_last_10=3, p3_points_sum_last_10=0),
    )
    for column in ["pdc_points_avg_last_10", "tdza_opponent_pace", "p3_games_last_10", "team_season_games"]:
        rows[column] = rows[column].astype("Float64")  # nullable extension dtype with pd.NA
    rows.loc[1, "pdc_points_avg_last_10"] = pd.NA
    built = m.build_rows(rows)
    matrix = np.vstack(built["features"].to_list())
    assert matrix.shape == (3, 25)
    assert not np.isnan(matrix).any()
    b = features_of(built, 1)
    assert b[0] == 24.0  # NaN daily-cache value -> Phase 3
    assert b[1] == 25.0  # pd.NA daily-cache value -> Phase 3
    assert b[5] == 50.0  # pd.NA composite -> default
    assert b[9] == 0.0  # NULL days_rest -> 0
    c = features_of(built, 2)
    assert c[10] == 0.0  # unknown status
    assert c[11] == 0.0  # fewer than 5 games
    assert c[21] == 0.15  # fewer than 5 games


def test_assemble_features_on_empty_input():
    features, labels = m.assemble_features(frame(full_row()).iloc[0:0])
    assert features.shape == (0, 25)
    assert labels.shape == (0, 25)


# ---------------------------------------------------------------------------------------------------
# Quality score, data_source, tiers
# ---------------------------------------------------------------------------------------------------


def labels(**counts):
    return [label for label, count in counts.items() for _ in range(count)]


@pytest.mark.parametrize(
    "label_counts, expected",
    [
        ({"phase4": 25}, 100.0),
        ({"phase3": 25}, 75.0),
        ({"default": 25}, 40.0),
        ({"phase4": 10, "phase3": 10, "calculated": 5}, 90.0),
        ({"phase4": 19, "calculated": 6}, 100.0),
        ({"phase4": 16, "phase3": 3, "calculated": 6}, 97.0),
        ({"phase4": 15, "default": 1, "phase3": 3, "calculated": 6}, 94.6),
        ({"phase3": 19, "calculated": 6}, 81.0),
        ({"default": 16, "phase3": 3, "calculated": 6}, 58.6),
        ({"phase4": 24, "mystery": 1}, 97.6),  # unknown label weighs 40
    ],
)
def test_quality_score(label_counts, expected):
    assert m.quality_score([labels(**label_counts)]).tolist() == [expected]


def test_quality_score_of_empty_label_set_is_zero():
    assert m.quality_score(np.empty((1, 0), dtype=object)).tolist() == [0.0]
    assert m.data_source(np.empty((1, 0), dtype=object)).tolist() == ["unknown"]


@pytest.mark.parametrize(
    "label_counts, expected",
    [
        ({"phase4": 23, "phase3": 1, "calculated": 1}, "phase4"),
        ({"phase4": 15, "phase3": 10}, "phase4_partial"),
        ({"phase3": 15, "phase4": 10}, "phase3"),
        ({"phase4": 10, "phase3": 5, "default": 5, "calculated": 5}, "mixed"),
        ({"phase4": 22, "calculated": 3}, "phase4_partial"),  # 0.88 < 0.90
        ({"phase4": 13, "phase3": 3, "calculated": 6, "default": 3}, "phase4_partial"),  # 0.52
        ({"phase4": 12, "phase3": 3, "calculated": 6, "default": 4}, "mixed"),  # 0.48
    ],
)
def test_data_source(label_counts, expected):
    assert m.data_source([labels(**label_counts)]).tolist() == [expected]


def test_quality_tier_thresholds():
    assert m.quality_tier([95.0, 94.99, 75.0, 74.99, 50.0, 49.99, 25.0, 24.99, 0.0, None]).tolist() == [
        "gold", "silver", "silver", "bronze", "bronze", "poor", "poor", "unusable", "unusable", None,
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Readiness and completeness
# ---------------------------------------------------------------------------------------------------


def test_readiness_fields():
    rows = frame(
        full_row(player_lookup="a"),
        full_row(player_lookup="b", composite_ready=False, team_defense_ready=None),
        full_row(player_lookup="c", own_data_ready=False),  # own data never listed as an issue
        full_row(player_lookup="d", completeness_percentage=86.66666, expected_games_count=15, actual_games_count=13, missing_games_count=2),
    )
    fields = m.readiness_fields(rows)
    assert fields["is_production_ready"].tolist() == [True, False, False, True]
    assert fields["data_quality_issues"].tolist() == [
        [],
        ["upstream_player_composite_factors_incomplete", "upstream_team_defense_zone_incomplete"],
        [],
        [],
    ]
    assert fields["completeness_percentage"].tolist() == [90.0, 90.0, 90.0, 86.7]
    assert fields["expected_games_count"].tolist() == [10, 10, 10, 15]
    assert fields["actual_games_count"].tolist() == [9, 9, 9, 13]
    assert fields["missing_games_count"].tolist() == [1, 1, 1, 2]


# ---------------------------------------------------------------------------------------------------
# Early-season placeholders
# ---------------------------------------------------------------------------------------------------


def test_placeholders_and_flags():
    rows = m.build_rows(
        frame(
            full_row(player_lookup="early", early_season_flag=True, days_rest=2),
            full_row(player_lookup="normal", early_season_flag=None),  # NULL flag -> FALSE, never NULL
        )
    )
    early = rows.iloc[0]
    assert early["player_lookup"] == "early"
    assert early["features"] is None  # a NULL array: BigQuery refuses NULL elements in a stored ARRAY
    assert early["feature_names"] == NAMES
    assert early["feature_count"] == 25
    assert early["feature_version"] == "v1_baseline_25"
    assert early["feature_quality_score"] == 0.0
    assert early["data_source"] == "early_season"
    assert early["early_season_flag"] == True  # noqa: E712
    assert early["insufficient_data_reason"] == "early_season_skip_first_14_days"
    assert early["quality_tier"] is None
    assert (early["expected_games_count"], early["actual_games_count"], early["completeness_percentage"], early["missing_games_count"]) == (0, 0, 0.0, 0)
    assert early["is_production_ready"] == False  # noqa: E712
    assert early["data_quality_issues"] == []
    assert early["processing_decision_reason"] == "early_season_placeholder"
    assert pd.isna(early["feature_generation_time_ms"])
    assert early["days_rest"] == 2
    assert early["game_id"] == "20250115_LAL_GSW"
    assert early["source_shot_zones_hash"] == "hash-source_shot_zones"

    normal = rows.iloc[1]
    assert normal["early_season_flag"] == False  # noqa: E712
    assert normal["insufficient_data_reason"] is None
    assert normal["processing_decision_reason"] == "processed_successfully"
    assert normal["quality_tier"] == "gold"
    assert rows["early_season_flag"].dtype == bool


def test_placeholder_rows_directly():
    rows = m.placeholder_rows(frame(full_row(early_season_flag=True), full_row(player_lookup="x", early_season_flag=True)))
    assert rows["data_source"].tolist() == ["early_season", "early_season"]
    assert rows["feature_quality_score"].tolist() == [0.0, 0.0]
    assert rows["quality_tier"].tolist() == [None, None]


# ---------------------------------------------------------------------------------------------------
# Edges
# ---------------------------------------------------------------------------------------------------


def test_is_duckdb():
    assert m.is_duckdb(duckdb.connect()) is True
    assert m.is_duckdb(object()) is False


def test_is_duckdb_sees_through_the_session_dbt_duckdb_hands_a_model():
    """`dbt run` passes DuckDBCursorWrapper (or RetryableCursor) around the DuckDB cursor: to_engine
    must still take the DuckDB path (declared types), not the pandas one."""
    from dbt.adapters.duckdb.environments import RetryableCursor
    from dbt.adapters.duckdb.environments.local import DuckDBCursorWrapper

    cursor = duckdb.connect().cursor()
    for session in (DuckDBCursorWrapper(cursor), RetryableCursor(DuckDBCursorWrapper(cursor), 1, [])):
        assert m.is_duckdb(session) is True
        relation = m.to_engine(m.build_rows(frame(full_row())), session, m.OUTPUT_TYPES)
        assert isinstance(relation, duckdb.DuckDBPyRelation)
        types = dict(zip(relation.columns, map(str, relation.types)))
        assert (types["feature_quality_score"], types["insufficient_data_reason"]) == ("DECIMAL(5,2)", "VARCHAR")


def test_to_engine_on_duckdb_keeps_legacy_types():
    con = duckdb.connect()
    rows = m.build_rows(frame(full_row(), full_row(player_lookup="early", early_season_flag=True)))
    relation = m.to_engine(rows, con, m.OUTPUT_TYPES)
    assert relation.columns == list(m.OUTPUT_TYPES)
    types = dict(zip(relation.columns, [str(t) for t in relation.types]))
    assert types["game_date"] == "DATE"
    assert types["feature_quality_score"] == "DECIMAL(5,2)"
    assert types["source_daily_cache_completeness_pct"] == "DECIMAL(5,2)"
    assert types["features"] == "DOUBLE[]"
    assert types["feature_names"] == "VARCHAR[]"
    assert types["data_quality_issues"] == "VARCHAR[]"
    assert types["feature_count"] == "BIGINT"
    assert types["is_home"] == "BOOLEAN"
    assert types["completeness_percentage"] == "DOUBLE"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    fetched = relation.query(
        "out",
        "select player_lookup, game_date, feature_quality_score, features[1], features[19], quality_tier,"
        " feature_generation_time_ms is null, len(features), data_quality_issues from out order by player_lookup",
    ).fetchall()
    from decimal import Decimal

    assert fetched[0][:7] == ("early", dt.date(2025, 1, 15), Decimal("0.00"), None, None, None, True)
    assert fetched[0][7:] == (None, [])  # features NULL: every position reads NULL
    assert fetched[1][:7] == ("lebronjames", dt.date(2025, 1, 15), Decimal("97.00"), 25.2, 0.35, "gold", False)


def test_to_engine_on_empty_output_keeps_types():
    con = duckdb.connect()
    relation = m.to_engine(m.build_rows(frame(full_row()).iloc[0:0]), con, m.OUTPUT_TYPES)
    assert relation.fetchall() == []
    types = dict(zip(relation.columns, [str(t) for t in relation.types]))
    assert (types["features"], types["game_date"], types["feature_quality_score"]) == ("DOUBLE[]", "DATE", "DECIMAL(5,2)")


def test_unique_inputs_keeps_one_row_per_key_smallest_game_id():
    inputs = frame(
        full_row(game_id="20250115_LAL_SAC"),
        full_row(game_id="20250115_LAL_GSW"),
        full_row(player_lookup="other"),
    )
    unique = m.unique_inputs(inputs)
    assert unique[["player_lookup", "game_id"]].values.tolist() == [
        ["lebronjames", "20250115_LAL_GSW"],
        ["other", "20250115_LAL_GSW"],
    ]
    assert unique["game_date"].tolist() == [dt.date(2025, 1, 15)] * 2


# ---------------------------------------------------------------------------------------------------
# model(): config and fingerprint skip with a fake dbt object on a real DuckDB connection
# ---------------------------------------------------------------------------------------------------


class FakeDbt:
    def __init__(self, con, is_incremental, this="ml_feature_store_v2"):
        self.con = con
        self.is_incremental = is_incremental
        self.this = this
        self.configs = {}
        self.refs = []

    def config(self, **kwargs):
        self.configs.update(kwargs)

    def ref(self, name):
        self.refs.append(name)
        return self.con.sql("select * from inputs")


def _load_inputs(con, rows):
    data = frame(*rows)
    con.register("inputs_frame", data)
    # game_date as a real DATE column: .df() hands it back as datetime64 (pandas 3)
    con.sql("create or replace table inputs as select * replace (cast(game_date as date) as game_date) from inputs_frame")
    con.unregister("inputs_frame")


def test_model_reads_only_its_prepared_inputs():
    # (Its configuration is checked against the rest of the project in test_project_rules.py.)
    con = duckdb.connect()
    _load_inputs(con, [full_row()])
    dbt = FakeDbt(con, is_incremental=False)
    m.model(dbt, con)
    assert dbt.refs == ["int_ml_feature_store__inputs"]


def test_fingerprint_skip_reuses_unchanged_rows_and_recomputes_changed_ones():
    con = duckdb.connect()
    rows = [
        full_row(player_lookup="a", input_fingerprint="fp-a"),
        full_row(player_lookup="b", input_fingerprint="fp-b"),
        full_row(player_lookup="c", input_fingerprint="fp-c", early_season_flag=True),
        full_row(player_lookup="d", input_fingerprint=None),
    ]
    _load_inputs(con, rows)
    first = m.model(FakeDbt(con, is_incremental=False), con)
    first.create("ml_feature_store_v2")
    # Mark the stored rows so a reused row is recognisable: an old write time and a sentinel version on "a".
    con.sql(
        "update ml_feature_store_v2 set created_at = timestamptz '2020-01-01 00:00:00+00',"
        " updated_at = timestamptz '2020-01-02 00:00:00+00'"
    )
    con.sql("update ml_feature_store_v2 set feature_version = 'stored-a' where player_lookup = 'a'")

    # "b" changes (new fingerprint and a new Phase 4 value); "a" and "c" keep their fingerprints;
    # "d" has no fingerprint (always recomputed); "e" is new.
    rows[1] = full_row(player_lookup="b", input_fingerprint="fp-b-2", pdc_points_avg_last_5=30.0)
    rows.append(full_row(player_lookup="e", input_fingerprint="fp-e"))
    _load_inputs(con, rows)
    second = m.model(FakeDbt(con, is_incremental=True), con)

    assert [str(t) for t in second.types] == [str(t) for t in first.types]
    out = second.query(
        "out",
        "select player_lookup, feature_version, created_at = timestamptz '2020-01-01 00:00:00+00' as reused,"
        " features[1], input_fingerprint, len(features), features[1] is null from out order by player_lookup",
    ).fetchall()
    assert [r[0] for r in out] == ["a", "b", "c", "d", "e"]
    by_player = {r[0]: r for r in out}
    assert by_player["a"][1:3] == ("stored-a", True)  # returned unchanged
    assert by_player["b"][2] is False and by_player["b"][3] == 30.0 and by_player["b"][4] == "fp-b-2"  # recomputed
    assert by_player["c"][2] is True and by_player["c"][5:] == (None, True)  # stored placeholder reused, features NULL
    assert by_player["d"][2] is False  # NULL fingerprint never matches
    assert by_player["e"][2] is False  # new row
    stored_c = con.sql("select * exclude (updated_at) from ml_feature_store_v2 where player_lookup = 'c'").fetchall()[0]
    reused_c = second.query("out", "select * exclude (updated_at) from out where player_lookup = 'c'").fetchall()[0]
    assert reused_c == stored_c


def test_fingerprint_skip_outside_incremental_recomputes_everything():
    con = duckdb.connect()
    _load_inputs(con, [full_row(player_lookup="a", input_fingerprint="fp-a")])
    m.model(FakeDbt(con, is_incremental=False), con).create("ml_feature_store_v2")
    con.sql("update ml_feature_store_v2 set feature_version = 'stored-a'")
    again = m.model(FakeDbt(con, is_incremental=False), con).fetchall()
    assert again[0][list(m.OUTPUT_TYPES).index("feature_version")] == m.FEATURE_VERSION


def random_inputs(rows, seed):
    """Input rows around full_row with random values, NULLs (None or NaN), duplicate keys and early dates."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame([full_row()] * rows)
    for name in PHASE4_AND_PHASE3_COLUMNS + ["days_rest", "opponent_days_rest", "p3_games_last_10", "team_season_games",
                                             "team_season_wins", "completeness_percentage"]:
        values = (rng.uniform(0, 2, rows) * float(full_row()[name] or 1.0)).round(rng.integers(0, 4)).astype(object)
        values[rng.random(rows) < 0.15] = None
        values[rng.random(rows) < 0.05] = np.nan
        data[name] = values
    for name in ["is_home", "back_to_back", "daily_cache_ready", "composite_ready", "shot_zone_ready",
                 "team_defense_ready", "own_data_ready", "season_boundary_detected"]:
        data[name] = pd.Series(rng.choice([True, False, None], rows), dtype=object)
    data["early_season_flag"] = rng.random(rows) < 0.1
    data["season_phase"] = rng.choice(["mid", "PLAYOFFS", None], rows)
    data["player_status"] = rng.choice(["available", "Questionable", "out", None, "weird"], rows)
    data["player_lookup"] = [f"player{k}" for k in rng.integers(0, rows // 3 + 1, rows)]
    data["game_date"] = pd.Timestamp("2024-10-20") + pd.to_timedelta(rng.integers(0, 200, rows), unit="D")
    data["game_id"] = [f"g{k}" for k in rng.integers(0, 10**6, rows)]
    data["input_fingerprint"] = [f"fp{k}" for k in rng.integers(0, 10**9, rows)]
    return data


def test_unique_inputs_equals_sort_then_drop_duplicates():
    inputs = random_inputs(2000, seed=4)
    expected = inputs.assign(game_date=m._dates(inputs, "game_date")).sort_values(
        ["player_lookup", "game_date", "game_id"], kind="stable", na_position="last"
    ).drop_duplicates(["player_lookup", "game_date"], keep="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(m.unique_inputs(inputs), expected)


@pytest.mark.parametrize("select", [
    # every flat type the input and output tables use, each with a NULL row
    """select * from (values
        (1::smallint, 2::integer, 3::bigint, 4::bigint, 1.5::decimal(5,2), 2.25::double, true, 'x',
         date '2021-11-20', timestamp '2021-11-20 10:00:00', timestamptz '2021-11-20 10:00:00+00'),
        (null, null, null, 5, null, null, null, null, null, null, null)
    ) as t(i16, i32, i64, i64_not_null, num, dbl, flag, txt, day, ts, tstz)""",
    # nested columns take .df() (masked arrays)
    "select [1.0, null]::double[] as features, ['a', 'b'] as names, 7 as n",
])
def test_to_pandas_gives_the_same_frame_as_duckdb_df(select):
    con = duckdb.connect()
    pd.testing.assert_frame_equal(m.to_pandas(con.sql(select)), con.sql(select).df(), check_dtype=True)


# ---------------------------------------------------------------------------------------------------
# Provenance: feature_sources, default_feature_count, is_training_ready
# ---------------------------------------------------------------------------------------------------

# By hand from the feature table: 0-8 Phase 4 (daily cache, composite), 9-12 calculated, 13-14 Phase 4
# (opponent defence), 15-17 game context (phase3), 18-20 Phase 4 (shot zones), 21 calculated,
# 22-23 Phase 4 (daily cache), 24 calculated.
FULL_ROW_SOURCES = (
    ["phase4"] * 9 + ["calculated"] * 4 + ["phase4"] * 2 + ["phase3"] * 3 + ["phase4"] * 3
    + ["calculated"] + ["phase4"] * 2 + ["calculated"]
)
# A player with no history: every tiered feature falls to its default; context and calculated stay.
NO_HISTORY_SOURCES = (
    ["default"] * 9 + ["calculated"] * 4 + ["default"] * 2 + ["phase3"] * 3 + ["default"] * 3
    + ["calculated"] + ["default"] * 2 + ["calculated"]
)


def test_provenance_of_a_full_row_and_of_a_player_without_history():
    rows = m.build_rows(frame(full_row(player_lookup="a"), no_history_row(player_lookup="b")))
    full, empty = rows.iloc[0], rows.iloc[1]
    assert full["feature_sources"] == FULL_ROW_SOURCES
    assert full["default_feature_count"] == 0
    assert full["is_training_ready"] == True  # noqa: E712  (97 >= 85, no default)
    assert empty["feature_sources"] == NO_HISTORY_SOURCES
    assert empty["default_feature_count"] == 16
    assert empty["is_training_ready"] == False  # noqa: E712


def test_quality_score_is_the_mean_weight_of_the_stored_sources():
    rows = m.build_rows(frame(full_row(player_lookup="a"), no_history_row(player_lookup="b"),
                              full_row(player_lookup="c", pcf_fatigue_score=None, psza_mid_range_rate_last_10=None)))
    weights = {"phase4": 100, "phase3": 75, "calculated": 100, "default": 40}
    for _, row in rows.iterrows():
        assert row["feature_quality_score"] == round(sum(weights[s] for s in row["feature_sources"]) / 25, 2)
    # c: fatigue to its default; mid-range to its Phase 3 share -> 97 - 2.4 - 1.0
    assert rows.iloc[2]["feature_quality_score"] == 93.6
    assert rows.iloc[2]["feature_sources"][5] == "default" and rows.iloc[2]["feature_sources"][19] == "phase3"
    assert rows.iloc[2]["is_training_ready"] == False  # noqa: E712  (a default feature)


def test_training_ready_threshold_is_inclusive_and_configurable():
    # one feature (mid-range) on Phase 3: 97 - 1 = 96, no default
    row = full_row(psza_mid_range_rate_last_10=None)
    assert m.build_rows(frame(row), min_quality=96)["is_training_ready"].tolist() == [True]
    assert m.build_rows(frame(row), min_quality=96.01)["is_training_ready"].tolist() == [False]


def test_placeholders_have_no_provenance_and_are_never_training_ready():
    rows = m.build_rows(frame(full_row(early_season_flag=True)))
    assert rows["feature_sources"].iloc[0] is None
    assert pd.isna(rows["default_feature_count"].iloc[0])
    assert rows["is_training_ready"].iloc[0] == False  # noqa: E712


class ConfiguredDbt(FakeDbt):
    """FakeDbt whose config also answers config.get (as dbt's Python-model config does)."""

    def __init__(self, con, is_incremental, values):
        super().__init__(con, is_incremental)
        outer = self

        class Config:
            def __call__(self, **kwargs):
                outer.configs.update(kwargs)

            def get(self, name, default=None):
                return values.get(name, default)

        self.config = Config()


def test_a_new_threshold_recomputes_stored_rows_whose_readiness_it_changes():
    con = duckdb.connect()
    rows = [full_row(player_lookup="a", input_fingerprint="fp-a"),
            full_row(player_lookup="b", input_fingerprint="fp-b", psza_mid_range_rate_last_10=None)]  # 97 and 96
    _load_inputs(con, rows)
    m.model(ConfiguredDbt(con, False, {"training_ready_min_quality": "85"}), con).create("ml_feature_store_v2")
    con.sql("update ml_feature_store_v2 set created_at = timestamptz '2020-01-01 00:00:00+00'")
    out = m.model(ConfiguredDbt(con, True, {"training_ready_min_quality": "96.5"}), con)
    result = dict(out.query("out", "select player_lookup, (is_training_ready, created_at = timestamptz '2020-01-01 00:00:00+00') from out").fetchall())
    assert result == {"a": (True, True), "b": (False, False)}  # a reused unchanged, b recomputed
