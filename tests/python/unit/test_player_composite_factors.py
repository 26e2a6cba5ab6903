"""Unit tests of models/precompute/player_composite_factors.py.

Every expectation is computed by hand from the legacy formulas (docs/decisions.md#legacy-formulas) and
the design decisions (docs/decisions.md), never from the model's own output.
"""

import datetime as dt
import importlib.util
import json
import math
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

MODEL_PATH = Path(__file__).resolve().parents[3] / "models" / "precompute" / "player_composite_factors.py"


def _load_model():
    spec = importlib.util.spec_from_file_location("player_composite_factors", MODEL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pcf = _load_model()

GAME_DATE = dt.date(2025, 11, 1)
LOADED_AT = pd.Timestamp("2025-11-01 08:00:00", tz="UTC")
SOURCES = {"source_player_context": (1, "hpc"), "source_team_context": (2, "htc"),
           "source_player_shot": (10, "hps"), "source_team_defense": (1, "htd")}

# LeBron of the legacy worked vector: rested, paint 65 % vs GSW paint +4.3, pace diff 3.5, usage 26/25.
LEBRON = {
    "player_lookup": "lebronjames", "universal_player_id": "lebron_001", "game_id": "g1",
    "game_date": GAME_DATE, "team_abbr": "LAL", "opponent_team_abbr": "GSW",
    "days_rest": 2, "back_to_back": False, "games_in_last_7_days": 3, "minutes_in_last_7_days": 175,
    "avg_minutes_per_game_last_7": 29.2, "back_to_backs_last_14_days": 0, "player_age": 28,
    "projected_usage_rate": 26.0, "avg_usage_rate_last_7_games": 25.0, "star_teammates_out": 0,
    "pace_differential": 3.5, "opponent_pace_last_10": 102.0,
    "has_shot_zone_row": True, "primary_scoring_zone": "paint", "paint_rate_last_10": 65.0,
    "mid_range_rate_last_10": 20.0, "three_pt_rate_last_10": 15.0,
    "has_team_defense_row": True, "paint_defense_vs_league_avg": 4.3, "mid_range_defense_vs_league_avg": -1.0,
    "three_pt_defense_vs_league_avg": 0.5, "weakest_zone": "paint",
    "upstream_player_shot_ready": True, "upstream_team_defense_ready": True,
    "upstream_player_context_ready": False, "upstream_team_context_ready": True,
    "early_season_flag": False, "season_boundary_detected": True, "backfill_bootstrap_mode": False,
    "expected_games_count": 10, "actual_games_count": 10, "completeness_percentage": 100.0,
    "missing_games_count": 0, "own_data_ready": True,
    **{k: v for prefix, (rows, digest) in SOURCES.items() for k, v in {
        f"{prefix}_last_updated": LOADED_AT, f"{prefix}_rows_found": rows,
        f"{prefix}_completeness_pct": 100.0, f"{prefix}_hash": digest}.items()},
    "input_fingerprint": "fp1",
    "code_version": "code-v1",
}

# Durant of the legacy worked vector: exhausted veteran, mid-range 45 % vs BOS mid +2.1.
DURANT = {
    **LEBRON,
    "player_lookup": "kevindurant", "universal_player_id": "durant_001", "game_id": "g2",
    "team_abbr": "PHX", "opponent_team_abbr": "BOS",
    "days_rest": 0, "back_to_back": True, "games_in_last_7_days": 4, "minutes_in_last_7_days": 250,
    "avg_minutes_per_game_last_7": 36.5, "back_to_backs_last_14_days": 2, "player_age": 35,
    "projected_usage_rate": 30.0, "avg_usage_rate_last_7_games": 28.0, "star_teammates_out": 2,
    "pace_differential": -2.0, "opponent_pace_last_10": 98.0,
    "primary_scoring_zone": "mid_range", "paint_rate_last_10": 30.0, "mid_range_rate_last_10": 45.0,
    "three_pt_rate_last_10": 25.0, "paint_defense_vs_league_avg": 1.0, "mid_range_defense_vs_league_avg": 2.1,
    "three_pt_defense_vs_league_avg": -0.5, "weakest_zone": "mid_range",
    "input_fingerprint": "fp2",
    "code_version": "code-v1",
}

NULLABLE_INPUTS = [
    "days_rest", "back_to_back", "games_in_last_7_days", "minutes_in_last_7_days",
    "avg_minutes_per_game_last_7", "back_to_backs_last_14_days", "player_age", "projected_usage_rate",
    "avg_usage_rate_last_7_games", "star_teammates_out", "pace_differential", "opponent_pace_last_10",
    "primary_scoring_zone", "paint_rate_last_10", "mid_range_rate_last_10", "three_pt_rate_last_10",
    "paint_defense_vs_league_avg", "mid_range_defense_vs_league_avg", "three_pt_defense_vs_league_avg",
    "weakest_zone",
]

FIVE_MISSING = "days_rest, projected_usage_rate, pace_differential, player_shot_zone, team_defense_zone"
FATIGUE_WARNING = "EXTREME_FATIGUE: Player showing severe fatigue"
MATCHUP_WARNING = "EXTREME_MATCHUP: Unusual zone mismatch"
ADJUSTMENT_WARNING = "EXTREME_ADJUSTMENT: Very large composite adjustment"


def rows(*overrides, base=LEBRON):
    return pd.DataFrame([{**base, **o} for o in overrides])


def one(**overrides):
    return rows(overrides)


def null_row(null=None):
    return one(**{name: null for name in NULLABLE_INPUTS}, has_shot_zone_row=False, has_team_defense_row=False)


def values(series):
    return [float(v) for v in series]


# ------------------------------------------------------------------------------------------
# Fatigue (legacy formula and worked examples)
# ------------------------------------------------------------------------------------------

FRESH = {"days_rest": 2, "back_to_back": False, "games_in_last_7_days": 3, "minutes_in_last_7_days": 175,
         "avg_minutes_per_game_last_7": 29.2, "back_to_backs_last_14_days": 0, "player_age": 28}


@pytest.mark.parametrize("changes, expected", [
    ({}, 100),                                                       # fresh player
    ({"player_age": 25}, 100),
    ({"player_age": 35}, 90),                                        # -10 veteran
    ({"player_age": 30}, 95),                                        # -5
    ({"back_to_back": True, "days_rest": 0, "games_in_last_7_days": 4, "minutes_in_last_7_days": 250,
      "avg_minutes_per_game_last_7": 36.5, "back_to_backs_last_14_days": 2, "player_age": 35}, 35),  # b2b, exhausted
    ({"back_to_back": True, "days_rest": 0, "back_to_backs_last_14_days": 1}, 80),  # -15 -5
    ({"minutes_in_last_7_days": 245, "avg_minutes_per_game_last_7": 35.0}, 90),     # mpg 35.0 is not > 35
    ({"avg_minutes_per_game_last_7": 35.1}, 92),                     # -8
    ({"days_rest": 3}, 100),                                         # +5 clamped at 100
    ({"days_rest": 1}, 100),
    ({"days_rest": 3, "games_in_last_7_days": 4}, 95),               # +5 -10
    ({"days_rest": 3.0, "games_in_last_7_days": 4}, 95),             # float int input
    ({"days_rest": 2.9, "games_in_last_7_days": 4}, 90),             # int() truncates: no bonus
    ({"days_rest": 3, "back_to_back": True}, 85),                    # no rest bonus on a b2b
])
def test_fatigue_score(changes, expected):
    assert pcf.fatigue_score(one(**{**FRESH, **changes})).tolist() == [expected]


@pytest.mark.parametrize("null", [None, np.nan, pd.NA])
def test_fatigue_score_all_null_is_100(null):
    assert pcf.fatigue_score(null_row(null)).tolist() == [100]


@pytest.mark.parametrize("score, expected", [(100, 0.0), (80, -1.0), (50, -2.5), (0, -5.0), (35, -3.25)])
def test_fatigue_adjustment(score, expected):
    assert pcf.fatigue_adjustment(pd.Series([score])).tolist() == [expected]


# ------------------------------------------------------------------------------------------
# Shot-zone mismatch
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, expected", [
    ({"paint_rate_last_10": 65.0, "paint_defense_vs_league_avg": 4.3}, 4.3),
    ({"paint_rate_last_10": 65.0, "paint_defense_vs_league_avg": -3.8}, -3.8),
    ({"paint_rate_last_10": 70.0, "paint_defense_vs_league_avg": 6.0}, 7.2),       # 6.0 x 1.2
    ({"paint_rate_last_10": 25.0, "paint_defense_vs_league_avg": 4.0}, 2.0),       # weight 0.5
    ({"primary_scoring_zone": "perimeter", "three_pt_rate_last_10": 65.0,
      "three_pt_defense_vs_league_avg": 3.5, "paint_defense_vs_league_avg": 9.0}, 3.5),
    ({"primary_scoring_zone": "mid_range", "mid_range_rate_last_10": 45.0,
      "mid_range_defense_vs_league_avg": 2.1}, 1.89),
    ({"has_shot_zone_row": False}, 0.0),
    ({"has_team_defense_row": False}, 0.0),
    ({"has_shot_zone_row": None, "has_team_defense_row": True}, 0.0),
    ({"paint_rate_last_10": 80.0, "paint_defense_vs_league_avg": 15.0}, 10.0),     # 18 clamped
    ({"paint_rate_last_10": 80.0, "paint_defense_vs_league_avg": -15.0}, -10.0),   # -18 clamped
    ({"primary_scoring_zone": "balanced", "paint_rate_last_10": 40.0, "paint_defense_vs_league_avg": 5.0,
      "mid_range_defense_vs_league_avg": 9.0}, 4.0),                               # balanced -> paint
    ({"primary_scoring_zone": None, "paint_rate_last_10": 60.0, "paint_defense_vs_league_avg": -2.0}, -2.0),
    ({"paint_rate_last_10": 50.0, "paint_defense_vs_league_avg": 5.0}, 5.0),       # exactly 5.0: no boost
    ({"paint_rate_last_10": 50.0, "paint_defense_vs_league_avg": -5.0}, -5.0),
    ({"paint_rate_last_10": 50.0, "paint_defense_vs_league_avg": 5.1}, 6.12),      # just above: x1.2
    ({"paint_rate_last_10": 50.0, "paint_defense_vs_league_avg": -5.1}, -6.12),
    ({"paint_rate_last_10": None, "paint_defense_vs_league_avg": 3.0}, 3.0),       # NULL rate = full weight
    ({"paint_rate_last_10": 65.0, "paint_defense_vs_league_avg": None}, 0.0),      # NULL defence = 0
])
def test_shot_zone_mismatch_score(changes, expected):
    assert pcf.shot_zone_mismatch_score(one(**changes)).tolist() == [pytest.approx(expected)]


# ------------------------------------------------------------------------------------------
# Pace and usage spike
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("diff, expected", [
    (3.5, 1.75), (-4.0, -2.0), (0.0, 0.0), (10.0, 3.0), (-10.0, -3.0), (None, 0.0), (np.nan, 0.0), (6.0, 3.0),
])
def test_pace_score(diff, expected):
    assert pcf.pace_score(one(pace_differential=diff)).tolist() == [expected]


@pytest.mark.parametrize("projected, baseline, stars, expected", [
    (26.0, 25.0, 0, 0.3),
    (20.0, 25.0, 0, -1.5),
    (30.0, 25.0, 1, 1.725),     # 1.5 x 1.15
    (30.0, 25.0, 2, 1.95),      # 1.5 x 1.30
    (20.0, 25.0, 2, -1.5),      # no boost when negative
    (30.0, 0.0, 0, 0.0),        # zero baseline
    (50.0, 20.0, 0, 3.0),       # 9.0 clamped
    (10.0, 40.0, 0, -3.0),      # -9.0 clamped
    (30.0, 28.0, 2, 0.78),      # Durant
    (30.0, None, 1, 1.725),     # NULL baseline -> 25
    (None, None, None, 0.0),    # all NULL -> 25 vs 25
    (30.0, 25.0, None, 1.5),    # NULL stars -> 0, no boost
])
def test_usage_spike_score(projected, baseline, stars, expected):
    frame = one(projected_usage_rate=projected, avg_usage_rate_last_7_games=baseline, star_teammates_out=stars)
    assert pcf.usage_spike_score(frame).tolist() == [pytest.approx(expected)]


# ------------------------------------------------------------------------------------------
# Total, completeness, warnings
# ------------------------------------------------------------------------------------------

def test_total_adjustment_sums_unrounded_components():
    total = pcf.total_adjustment(pd.Series([0.0, -3.25]), pd.Series([4.3, 1.89]), pd.Series([1.75, -1.0]),
                                 pd.Series([0.3, 0.78]))
    assert total.tolist() == [pytest.approx(6.35), pytest.approx(-1.58)]


@pytest.mark.parametrize("changes, pct, missing", [
    ({}, 100.0, None),
    ({"has_shot_zone_row": False}, 80.0, "player_shot_zone"),
    ({"has_team_defense_row": False}, 80.0, "team_defense_zone"),
    ({"pace_differential": None, "has_team_defense_row": False}, 60.0, "pace_differential, team_defense_zone"),
    ({"days_rest": np.nan, "projected_usage_rate": pd.NA}, 60.0, "days_rest, projected_usage_rate"),
])
def test_data_quality_fields(changes, pct, missing):
    fields = pcf.data_quality_fields(one(**changes))
    assert fields["data_completeness_pct"].tolist() == [pct]
    assert fields["missing_data_fields"].tolist() == [missing]


def test_data_quality_fields_empty_row():
    fields = pcf.data_quality_fields(null_row())
    assert fields["data_completeness_pct"].tolist() == [0.0]
    assert fields["missing_data_fields"].tolist() == [FIVE_MISSING]
    assert len(fields["missing_data_fields"][0].split(", ")) == 5


@pytest.mark.parametrize("fatigue, zone, total, details", [
    (45, 1.0, 2.0, FATIGUE_WARNING),
    (80, 9.0, 5.0, MATCHUP_WARNING),
    (80, -9.0, 5.0, MATCHUP_WARNING),
    (80, 4.0, 13.5, ADJUSTMENT_WARNING),
    (80, 4.0, -12.5, ADJUSTMENT_WARNING),
    (80, 4.0, 5.0, None),
    (50, 8.0, 12.0, None),                       # thresholds are strict
    (35, 9.5, 13.0, f"{FATIGUE_WARNING}; {MATCHUP_WARNING}; {ADJUSTMENT_WARNING}"),
])
def test_warning_fields(fatigue, zone, total, details):
    fields = pcf.warning_fields(pd.Series([fatigue]), pd.Series([zone]), pd.Series([total]))
    assert fields["has_warnings"].tolist() == [details is not None]
    assert fields["warning_details"].tolist() == [details]


# ------------------------------------------------------------------------------------------
# Readiness, season flags
# ------------------------------------------------------------------------------------------

ALL_ISSUES = ["own_data_incomplete", "upstream_player_shot_zone_incomplete", "upstream_team_defense_zone_incomplete",
              "upstream_player_context_incomplete", "upstream_team_context_incomplete"]
ALL_READY = {"own_data_ready": True, "upstream_player_shot_ready": True, "upstream_team_defense_ready": True,
             "upstream_player_context_ready": True, "upstream_team_context_ready": True}


@pytest.mark.parametrize("changes, production_ready, all_upstreams, issues", [
    ({}, True, True, []),
    ({"own_data_ready": False}, False, True, ["own_data_incomplete"]),
    ({"own_data_ready": None}, False, True, ["own_data_incomplete"]),
    ({"upstream_player_context_ready": False}, False, False, ["upstream_player_context_incomplete"]),
    ({"upstream_team_context_ready": False, "upstream_player_shot_ready": False}, False, False,
     ["upstream_player_shot_zone_incomplete", "upstream_team_context_incomplete"]),
    ({k: False for k in ALL_READY}, False, False, ALL_ISSUES),
])
def test_readiness_fields(changes, production_ready, all_upstreams, issues):
    fields = pcf.readiness_fields(one(**{**ALL_READY, **changes}))
    assert fields["is_production_ready"].tolist() == [production_ready]
    assert fields["all_upstreams_ready"].tolist() == [all_upstreams]
    assert list(fields["data_quality_issues"][0]) == issues


@pytest.mark.parametrize("flag, expected_flag, reason", [
    (True, True, "early_season_skip_first_14_days"),
    (False, False, None),
    (None, False, None),
])
def test_season_fields(flag, expected_flag, reason):
    fields = pcf.season_fields(one(early_season_flag=flag))
    assert fields["early_season_flag"].tolist() == [expected_flag]
    assert fields["insufficient_data_reason"].tolist() == [reason]


def test_early_season_row_is_computed_normally():
    out = pcf.compute_factors(rows({**DURANT, "early_season_flag": True}, base=DURANT))
    assert out["early_season_flag"].tolist() == [True]
    assert out["insufficient_data_reason"].tolist() == ["early_season_skip_first_14_days"]
    assert out["fatigue_score"].tolist() == [35]
    assert out["total_composite_adjustment"].tolist() == [-1.58]


# ------------------------------------------------------------------------------------------
# Rounding
# ------------------------------------------------------------------------------------------

def test_round_half_away():
    rounded = pcf.round_half_away(pd.Series([0.25, -0.25, 1.75, -1.75, 2.5, np.nan]), 1)
    assert rounded[:5].tolist() == [0.3, -0.3, 1.8, -1.8, 2.5]
    assert math.isnan(rounded[5])
    assert pcf.round_half_away(pd.Series([2.5, -2.5, 0.5, -0.5, 1.4]), 0).tolist() == [3.0, -3.0, 1.0, -1.0, 1.0]
    assert pcf.round_half_away(pd.Series([-0.125, 0.125]), 2).tolist() == [-0.13, 0.13]


def test_round_half_away_rounds_the_decimal_value_on_both_sides_of_a_tie():
    # 1.015, -1.015 and 2.675 are stored as floats just below their tie (1.01499999999999990...):
    # rounding the float gives 1.01; the decimal the value stands for is a tie, which goes away from 0.
    values = pd.Series([1.015, -1.015, 2.675, -2.675, 0.285, -0.285, 1.0149999, -1.0150001])
    assert pcf.round_half_away(values, 2).tolist() == [1.02, -1.02, 2.68, -2.68, 0.29, -0.29, 1.01, -1.02]


@pytest.mark.parametrize("projected, total", [
    (25.95, 0.29),    # 0.95 x 0.3 = 0.285 exactly; the float sum is 0.28499999999999975
    (24.05, -0.29),   # -0.285 -> -0.29
    (25.85, 0.26),    # 0.255 -> 0.26 (float 0.2550000000000004: right either way)
    (25.94, 0.28),    # 0.282: not a tie
])
def test_total_composite_adjustment_rounds_exact_ties_half_away(projected, total):
    # Fatigue 100 (adjustment 0), no zone rows, no pace differential: the total is the usage spike.
    out = pcf.compute_factors(one(projected_usage_rate=projected, avg_usage_rate_last_7_games=25.0,
                                  pace_differential=0.0, has_shot_zone_row=False, star_teammates_out=0))
    assert out["fatigue_score"].tolist() == [100]
    assert out["total_composite_adjustment"].tolist() == [total]


def test_stored_scores_round_half_away_and_total_uses_unrounded():
    # fatigue 95 (age 30) -> -0.25; pace diff 0.25 -> 0.125 (stored 0.1); no zone rows; no usage change
    out = pcf.compute_factors(one(player_age=30, pace_differential=0.25, projected_usage_rate=25.0,
                                  has_shot_zone_row=False))
    assert out["fatigue_score"].tolist() == [95]
    assert out["pace_score"].tolist() == [0.1]
    assert out["total_composite_adjustment"].tolist() == [-0.13]   # half away, not half even (-0.12)
    out = pcf.compute_factors(one(pace_differential=0.5, projected_usage_rate=25.0, has_shot_zone_row=False))
    assert out["pace_score"].tolist() == [0.3]                     # 0.25 -> 0.3
    assert json.loads(out["pace_context_json"][0])["final_score"] == 0.25


def test_matchup_warning_uses_unrounded_zone_score():
    out = pcf.compute_factors(one(paint_rate_last_10=50.0, paint_defense_vs_league_avg=6.7))  # 6.7 x 1.2 = 8.04
    assert out["shot_zone_mismatch_score"].tolist() == [8.0]
    assert out["warning_details"].tolist() == [MATCHUP_WARNING]


# ------------------------------------------------------------------------------------------
# Context JSON
# ------------------------------------------------------------------------------------------

def test_lebron_context_json():
    out = pcf.compute_factors(rows({}))
    assert out["fatigue_context_json"][0] == (
        '{"days_rest": 2, "back_to_back": false, "games_last_7": 3, "minutes_last_7": 175.0, '
        '"avg_minutes_pg_last_7": 29.2, "back_to_backs_last_14": 0, "player_age": 28, '
        '"penalties_applied": [], "bonuses_applied": [], "final_score": 100}')
    assert out["shot_zone_context_json"][0] == (
        '{"player_primary_zone": "paint", "primary_zone_frequency": 65.0, "opponent_weak_zone": "paint", '
        '"opponent_defense_vs_league": 4.3, "mismatch_type": "favorable", "final_score": 4.3}')
    assert out["pace_context_json"][0] == (
        '{"pace_differential": 3.5, "opponent_pace_last_10": 102.0, "league_avg_pace": 100.0, '
        '"pace_environment": "fast", "final_score": 1.75}')
    assert out["usage_context_json"][0] == (
        '{"projected_usage_rate": 26.0, "avg_usage_last_7": 25.0, "usage_differential": 1.0, '
        '"star_teammates_out": 0, "usage_trend": "stable", "final_score": 0.3}')


def test_durant_context_json():
    out = pcf.compute_factors(rows({}, base=DURANT))
    fatigue = json.loads(out["fatigue_context_json"][0])
    assert list(fatigue) == ["days_rest", "back_to_back", "games_last_7", "minutes_last_7", "avg_minutes_pg_last_7",
                             "back_to_backs_last_14", "player_age", "penalties_applied", "bonuses_applied",
                             "final_score"]
    assert fatigue["penalties_applied"] == ["back_to_back: -15", "frequent_games: -10", "heavy_minutes: -10",
                                            "veteran_age: -10"]
    assert fatigue["bonuses_applied"] == []
    assert (fatigue["days_rest"], fatigue["back_to_back"], fatigue["minutes_last_7"], fatigue["final_score"]) == \
        (0, True, 250.0, 35)
    zone = json.loads(out["shot_zone_context_json"][0])
    assert (zone["player_primary_zone"], zone["primary_zone_frequency"], zone["opponent_weak_zone"],
            zone["opponent_defense_vs_league"], zone["mismatch_type"]) == \
        ("mid_range", 45.0, "mid_range", 2.1, "neutral")
    assert zone["final_score"] == pytest.approx(1.89)
    pace = json.loads(out["pace_context_json"][0])
    assert (pace["pace_environment"], pace["final_score"]) == ("normal", -1.0)   # -2.0 is not < -2.0
    usage = json.loads(out["usage_context_json"][0])
    assert (usage["usage_differential"], usage["usage_trend"], usage["star_teammates_out"]) == (2.0, "stable", 2)
    assert usage["final_score"] == pytest.approx(0.78)


@pytest.mark.parametrize("changes, key, field, expected", [
    ({"paint_defense_vs_league_avg": -3.8}, "shot_zone_context_json", "mismatch_type", "unfavorable"),
    ({"paint_defense_vs_league_avg": 2.0}, "shot_zone_context_json", "mismatch_type", "neutral"),
    ({"primary_scoring_zone": None, "weakest_zone": None}, "shot_zone_context_json", "player_primary_zone", "unknown"),
    ({"primary_scoring_zone": None, "weakest_zone": None}, "shot_zone_context_json", "opponent_weak_zone", "unknown"),
    ({"paint_rate_last_10": None}, "shot_zone_context_json", "primary_zone_frequency", 0.0),
    ({"pace_differential": -2.5}, "pace_context_json", "pace_environment", "slow"),
    ({"projected_usage_rate": 28.0}, "usage_context_json", "usage_trend", "spike"),
    ({"projected_usage_rate": 22.0}, "usage_context_json", "usage_trend", "drop"),
    ({"days_rest": 3, "back_to_back": True}, "fatigue_context_json", "bonuses_applied", ["extra_rest: +5"]),
    ({"days_rest": 3, "back_to_back": True}, "fatigue_context_json", "penalties_applied", ["back_to_back: -15"]),
])
def test_context_enumerations(changes, key, field, expected):
    assert json.loads(pcf.compute_factors(one(**changes))[key][0])[field] == expected


def test_shot_zone_context_missing_data():
    out = pcf.compute_factors(one(has_team_defense_row=False))
    assert out["shot_zone_context_json"].tolist() == ['{"missing_data": true}']


# ------------------------------------------------------------------------------------------
# Worked vectors (legacy worked examples) through compute_factors
# ------------------------------------------------------------------------------------------

def test_worked_vectors_lebron_and_durant():
    out = pcf.compute_factors(pd.DataFrame([LEBRON, DURANT]))
    assert out["fatigue_score"].tolist() == [100, 35]
    assert out["shot_zone_mismatch_score"].tolist() == [4.3, 1.9]
    assert out["pace_score"].tolist() == [1.8, -1.0]
    assert out["usage_spike_score"].tolist() == [0.3, 0.8]
    assert out["total_composite_adjustment"].tolist() == [6.35, -1.58]
    assert out["data_completeness_pct"].tolist() == [100.0, 100.0]
    assert out["missing_data_fields"].tolist() == [None, None]
    assert out["has_warnings"].tolist() == [False, True]
    assert out["warning_details"].tolist() == [None, FATIGUE_WARNING]
    assert out["is_production_ready"].tolist() == [False, False]
    assert [list(v) for v in out["data_quality_issues"]] == [["upstream_player_context_incomplete"]] * 2
    for name in ["referee_favorability_score", "look_ahead_pressure_score", "travel_impact_score",
                 "opponent_strength_score"]:
        assert out[name].tolist() == [0.0, 0.0]
    assert out["calculation_version"].tolist() == ["v1_4factors"] * 2
    assert out["processing_decision_reason"].tolist() == ["processed_successfully"] * 2
    assert [d.date() for d in out["analysis_date"]] == [GAME_DATE, GAME_DATE]


@pytest.mark.parametrize("null", [None, np.nan, pd.NA])
def test_all_null_row_is_neutral(null):
    out = pcf.compute_factors(null_row(null))
    assert out["fatigue_score"].tolist() == [100]
    for name in ["shot_zone_mismatch_score", "pace_score", "usage_spike_score", "total_composite_adjustment"]:
        assert out[name].tolist() == [0.0]
    assert out["data_completeness_pct"].tolist() == [0.0]
    assert out["missing_data_fields"].tolist() == [FIVE_MISSING]
    assert out["has_warnings"].tolist() == [False]
    assert out["fatigue_context_json"][0] == (
        '{"days_rest": 0, "back_to_back": false, "games_last_7": 0, "minutes_last_7": 0.0, '
        '"avg_minutes_pg_last_7": 0.0, "back_to_backs_last_14": 0, "player_age": 25, '
        '"penalties_applied": [], "bonuses_applied": [], "final_score": 100}')
    assert out["pace_context_json"][0] == (
        '{"pace_differential": 0.0, "opponent_pace_last_10": 100.0, "league_avg_pace": 100.0, '
        '"pace_environment": "normal", "final_score": 0.0}')
    assert out["usage_context_json"][0] == (
        '{"projected_usage_rate": 0.0, "avg_usage_last_7": 0.0, "usage_differential": 0.0, '
        '"star_teammates_out": 0, "usage_trend": "stable", "final_score": 0.0}')
    assert out["shot_zone_context_json"][0] == '{"missing_data": true}'
    assert "NaN" not in "".join(out[c][0] for c in out.columns if c.endswith("_json"))


def test_completeness_and_source_pass_through():
    out = pcf.compute_factors(one(completeness_percentage=93.33333, expected_games_count=3.0,
                                  source_team_defense_completeness_pct=87.5, source_player_shot_rows_found=np.nan))
    assert out["completeness_percentage"].tolist() == [93.3]
    assert out["expected_games_count"].tolist() == [3]
    assert out["source_team_defense_completeness_pct"].tolist() == [87.5]
    assert out["source_player_shot_rows_found"].isna().tolist() == [True]
    assert out["source_player_context_last_updated"].tolist() == [LOADED_AT]


# ------------------------------------------------------------------------------------------
# Edges: output schema and to_engine
# ------------------------------------------------------------------------------------------

EXPECTED_COLUMNS = [
    "player_lookup", "universal_player_id", "game_date", "game_id", "analysis_date",
    "fatigue_score", "shot_zone_mismatch_score", "pace_score", "usage_spike_score", "referee_favorability_score",
    "look_ahead_pressure_score", "travel_impact_score", "opponent_strength_score", "total_composite_adjustment",
    "fatigue_context_json", "shot_zone_context_json", "pace_context_json", "usage_context_json",
    "calculation_version", "data_completeness_pct", "missing_data_fields", "has_warnings", "warning_details",
    "source_player_context_last_updated", "source_player_context_rows_found",
    "source_player_context_completeness_pct", "source_player_context_hash",
    "source_team_context_last_updated", "source_team_context_rows_found",
    "source_team_context_completeness_pct", "source_team_context_hash",
    "source_player_shot_last_updated", "source_player_shot_rows_found",
    "source_player_shot_completeness_pct", "source_player_shot_hash",
    "source_team_defense_last_updated", "source_team_defense_rows_found",
    "source_team_defense_completeness_pct", "source_team_defense_hash",
    "early_season_flag", "insufficient_data_reason", "expected_games_count", "actual_games_count",
    "completeness_percentage", "missing_games_count", "is_production_ready",
    "upstream_player_shot_ready", "upstream_team_defense_ready", "upstream_player_context_ready",
    "upstream_team_context_ready", "all_upstreams_ready", "data_quality_issues",
    "season_boundary_detected", "backfill_bootstrap_mode", "processing_decision_reason",
    "input_fingerprint", "code_version", "created_at", "processed_at",
]


def test_output_columns_in_order():
    assert list(pcf.OUTPUT_COLUMNS) == EXPECTED_COLUMNS
    assert list(pcf.compute_factors(rows({})).columns) == EXPECTED_COLUMNS


def test_to_engine_duckdb_keeps_types():
    con = duckdb.connect()
    frame = pd.DataFrame({"x": [4.3], "d": pd.to_datetime(["2021-11-20"]), "l": [["p", "q"]], "n": [np.nan]})
    relation = pcf.to_engine(frame, con, {"d": "date", "x": "decimal(4,1)", "l": "varchar[]", "n": "double"})
    assert [str(t) for t in relation.types] == ["DATE", "DECIMAL(4,1)", "VARCHAR[]", "DOUBLE"]
    assert relation.columns == ["d", "x", "l", "n"]
    assert relation.fetchall() == [(dt.date(2021, 11, 20), Decimal("4.3"), ["p", "q"], None)]


def test_to_engine_full_output_types():
    con = duckdb.connect()
    relation = pcf.to_engine(pcf.compute_factors(pd.DataFrame([LEBRON, DURANT])), con, pcf.OUTPUT_COLUMNS)
    types = dict(zip(relation.columns, [str(t) for t in relation.types]))
    assert (types["game_date"], types["analysis_date"], types["shot_zone_mismatch_score"], types["pace_score"],
            types["total_composite_adjustment"], types["fatigue_score"], types["data_quality_issues"],
            types["completeness_percentage"], types["created_at"]) == \
        ("DATE", "DATE", "DECIMAL(4,1)", "DECIMAL(3,1)", "DECIMAL(5,2)", "BIGINT", "VARCHAR[]", "DOUBLE",
         "TIMESTAMP WITH TIME ZONE")
    got = relation.project("player_lookup, game_date, shot_zone_mismatch_score, total_composite_adjustment")
    assert sorted(got.fetchall()) == [("kevindurant", GAME_DATE, Decimal("1.9"), Decimal("-1.58")),
                                      ("lebronjames", GAME_DATE, Decimal("4.3"), Decimal("6.35"))]


def test_to_engine_takes_the_duckdb_path_for_the_session_dbt_duckdb_hands_a_model():
    """`dbt run` passes a DuckDBCursorWrapper: all-NULL text columns must still come out VARCHAR
    (not DuckDB's "NULL" type, which a later merge cannot insert into) and scores DECIMAL."""
    from dbt.adapters.duckdb.environments.local import DuckDBCursorWrapper

    session = DuckDBCursorWrapper(duckdb.connect().cursor())
    relation = pcf.to_engine(pcf.compute_factors(rows({})), session, pcf.OUTPUT_COLUMNS)
    types = dict(zip(relation.columns, map(str, relation.types)))
    assert (types["warning_details"], types["insufficient_data_reason"]) == ("VARCHAR", "VARCHAR")
    assert types["shot_zone_mismatch_score"] == "DECIMAL(4,1)"


# ------------------------------------------------------------------------------------------
# model(): configuration and fingerprint skip
# ------------------------------------------------------------------------------------------

class FakeDbt:
    def __init__(self, session, is_incremental, this=None):
        self.session, self.is_incremental, self.this = session, is_incremental, this
        self.configs = {}

    def config(self, **kwargs):
        self.configs.update(kwargs)

    def ref(self, name):
        assert name == "int_player_composite_factors__inputs"
        return self.session.sql("select * from inputs")


def _write_inputs(con, records):
    frame = pd.DataFrame(records)
    con.register("inputs_frame", frame)
    con.execute("create or replace table inputs as "
                "select * replace (cast(game_date as date) as game_date) from inputs_frame")
    con.unregister("inputs_frame")


def _as_dicts(relation):
    return {row[0]: dict(zip(relation.columns, row)) for row in relation.fetchall()}


def test_model_first_run():
    # (Its configuration is checked against the rest of the project in test_project_rules.py.)
    con = duckdb.connect()
    _write_inputs(con, [LEBRON, DURANT])
    dbt = FakeDbt(con, is_incremental=False)
    result = _as_dicts(pcf.model(dbt, con))
    assert sorted(result) == ["kevindurant", "lebronjames"]
    assert result["lebronjames"]["game_date"] == GAME_DATE
    assert result["lebronjames"]["total_composite_adjustment"] == Decimal("6.35")
    assert result["kevindurant"]["fatigue_score"] == 35


def test_model_fingerprint_skip(monkeypatch):
    con = duckdb.connect()
    _write_inputs(con, [LEBRON, DURANT])
    pcf.model(FakeDbt(con, is_incremental=False), con).create("pcf_stored")
    stored_at = dt.datetime(2025, 11, 2, tzinfo=dt.timezone.utc)
    # Tamper with the stored rows so that a reused row is recognisable.
    con.execute("update pcf_stored set fatigue_score = 1, "
                "processed_at = timestamptz '2025-11-02 00:00:00+00', "
                "created_at = timestamptz '2025-11-02 00:00:00+00'")
    # A stored row of a player who no longer qualifies (same date and fingerprint).
    con.execute("insert into pcf_stored select * replace ('gone' as player_lookup) from pcf_stored "
                "where player_lookup = 'lebronjames'")
    # Durant's inputs changed; LeBron's did not.
    _write_inputs(con, [LEBRON, {**DURANT, "input_fingerprint": "fp2-changed"}])

    computed = []
    original = pcf.compute_factors
    monkeypatch.setattr(pcf, "compute_factors",
                        lambda inputs, now=None: computed.extend(inputs["player_lookup"]) or original(inputs, now))
    relation = pcf.model(FakeDbt(con, is_incremental=True, this="pcf_stored"), con)
    result = _as_dicts(relation)

    assert computed == ["kevindurant"]
    assert sorted(result) == ["kevindurant", "lebronjames"]
    lebron = result["lebronjames"]
    assert (lebron["fatigue_score"], lebron["input_fingerprint"]) == (1, "fp1")
    assert lebron["processed_at"] == stored_at and lebron["created_at"] == stored_at
    assert lebron["game_date"] == GAME_DATE
    assert lebron["shot_zone_mismatch_score"] == Decimal("4.3")
    assert list(lebron["data_quality_issues"]) == ["upstream_player_context_incomplete"]
    durant = result["kevindurant"]
    assert (durant["fatigue_score"], durant["input_fingerprint"]) == (35, "fp2-changed")
    assert durant["processed_at"] > stored_at
    assert [str(t) for t in relation.types][:7] == ["VARCHAR", "VARCHAR", "DATE", "VARCHAR", "DATE", "BIGINT",
                                                    "DECIMAL(4,1)"]


def test_model_incremental_with_all_fingerprints_unchanged_recomputes_nothing(monkeypatch):
    con = duckdb.connect()
    _write_inputs(con, [LEBRON])
    pcf.model(FakeDbt(con, is_incremental=False), con).create("pcf_stored")
    con.execute("update pcf_stored set usage_spike_score = 9.9")
    computed = []
    original = pcf.compute_factors
    monkeypatch.setattr(pcf, "compute_factors",
                        lambda inputs, now=None: computed.extend(inputs["player_lookup"]) or original(inputs, now))
    result = _as_dicts(pcf.model(FakeDbt(con, is_incremental=True, this="pcf_stored"), con))
    assert computed == []
    assert list(result) == ["lebronjames"]
    assert result["lebronjames"]["usage_spike_score"] == Decimal("9.9")  # the stored row, not recomputed
    assert result["lebronjames"]["total_composite_adjustment"] == Decimal("6.35")


# ------------------------------------------------------------------------------------------
# Vectorised JSON == json.dumps; model outputs on random rows == the per-value references
# ------------------------------------------------------------------------------------------

JSON_FLOATS = [0.0, -0.0, 1e-05, 0.1, 100.0, 1e16, 1e-07, 123456789.123, 5e-324, 1.7976931348623157e308, -2.5,
               1 / 3, 2.0 ** 53, 0.30000000000000004, 1e22, 9.999999999999999e15, 0.0001]
JSON_STRINGS = ["paint", "mid_range", 'a "quoted" \\ back/slash', "é中 😀", "tab\tnew\nline\x00\x1f", "", "unknown",
                "<null>", "\u2028"]


def varied_json_frame(rows, seed):
    rng = np.random.default_rng(seed)
    index = np.arange(rows)
    bits = rng.integers(-2**63, 2**63 - 1, rows, dtype=np.int64).view(np.float64)
    special = rng.choice(JSON_FLOATS, rows) * rng.choice([1.0, -1.0], rows)
    scale = 10.0 ** rng.integers(0, 7, rows)
    return pd.DataFrame({
        "bits": np.where(np.isfinite(bits), bits, 0.5),
        "mixed": np.where(index % 3 == 0, special, np.round(rng.normal(0, 300, rows) * scale) / scale),
        "low": rng.choice([0.0, -0.0, 1.75, 100.0], rows),
        "non_finite": rng.choice([np.nan, np.inf, -np.inf, 1.5], rows),
        "int": rng.integers(-10**15, 10**15, rows),
        "small": rng.integers(0, 5, rows).astype("int32"),
        "flag": rng.random(rows) < 0.5,
        "text": pd.Series(rng.choice(JSON_STRINGS, rows), dtype=object),
        "text_str": pd.Series(rng.choice(JSON_STRINGS, rows), dtype="str"),
        "text_many": pd.Series([f"z{k}\"é{rng.integers(10**9)}" for k in index], dtype=object),
        "text_null": pd.Series(rng.choice(["a", None], rows), dtype=object),
        "objects": pd.Series([[1, "a", 2.5, None, True, -0.0][k % 6] for k in index], dtype=object),
    })


@pytest.mark.parametrize("seed, rows", [(1, 4000), (2, 1), (3, 17)])
def test_json_records_equal_json_dumps_of_each_record(seed, rows):
    data = varied_json_frame(rows, seed)
    texts = pcf.json_records({name: pcf.json_codes(data[name]) for name in data.columns})
    assert list(texts) == [json.dumps(record) for record in data.to_dict("records")]


def test_json_codes_round_trips_random_float_bit_patterns():
    floats = np.random.default_rng(5).integers(-2**63, 2**63 - 1, 20000, dtype=np.int64).view(np.float64)
    codes, texts = pcf.json_codes(pd.Series(floats))
    assert list(texts[codes]) == [json.dumps(float(value)) for value in floats]


def test_json_label_lists_and_joined_labels_equal_the_straightforward_rendering():
    rng = np.random.default_rng(9)
    flags = {label: pd.Series(rng.random(500) < share)
             for label, share in [("back_to_back: -15", 0.5), ('odd "label"', 0.2), ("é", 0.9), ("x", 0.0)]}
    chosen = [[label for label, mask in flags.items() if mask[row]] for row in range(500)]
    codes, texts = pcf.json_label_lists(flags)
    assert list(texts[codes]) == [json.dumps(labels) for labels in chosen]
    assert pcf._label_lists(flags).tolist() == chosen
    assert pcf._join_labels(flags, "; ").tolist() == ["; ".join(labels) for labels in chosen]


def random_inputs(rows, seed):
    """Input rows around LEBRON with random values and NULLs (None or NaN) in every nullable input."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame([LEBRON] * rows)
    numbers = {
        "days_rest": (0, 5, 0), "games_in_last_7_days": (0, 5, 0), "minutes_in_last_7_days": (0, 300, 1),
        "avg_minutes_per_game_last_7": (0, 45, 2), "back_to_backs_last_14_days": (0, 3, 0), "player_age": (19, 41, 0),
        "projected_usage_rate": (5, 40, 3), "avg_usage_rate_last_7_games": (0, 40, 3), "star_teammates_out": (0, 3, 0),
        "pace_differential": (-9, 9, 2), "opponent_pace_last_10": (90, 110, 1), "paint_rate_last_10": (0, 100, 1),
        "mid_range_rate_last_10": (0, 100, 1), "three_pt_rate_last_10": (0, 100, 1),
        "paint_defense_vs_league_avg": (-12, 12, 2), "mid_range_defense_vs_league_avg": (-12, 12, 2),
        "three_pt_defense_vs_league_avg": (-12, 12, 2), "completeness_percentage": (0, 100, 4),
    }
    for name, (low, high, decimals) in numbers.items():
        values = np.round(rng.uniform(low, high, rows), decimals).astype(object)
        values[rng.random(rows) < 0.1] = None
        values[rng.random(rows) < 0.05] = np.nan
        data[name] = values
    for name in ["back_to_back", "has_shot_zone_row", "has_team_defense_row", "early_season_flag",
                 "upstream_player_shot_ready", "upstream_team_context_ready", "own_data_ready"]:
        data[name] = pd.Series(rng.choice([True, False, None], rows), dtype=object)
    data["primary_scoring_zone"] = rng.choice(["paint", "mid_range", "perimeter", "balanced", None], rows)
    data["weakest_zone"] = rng.choice(["paint", "mid_range", "perimeter", 'odd "zone" é', None], rows)
    data["player_lookup"] = [f"player{k}" for k in range(rows)]
    data["input_fingerprint"] = [f"fp{k}" for k in rng.integers(0, 10**9, rows)]
    data["code_version"] = "code-v1"
    return data


def reference_context_columns(frame, fatigue, zone, pace, usage):
    """The four context JSON columns as built before vectorisation: one typed frame per context and
    json.dumps of each of its records (frame: normalised inputs; the four unrounded scores)."""
    def dumps(columns):
        return [json.dumps(record) for record in pd.DataFrame(columns, index=frame.index).to_dict("records")]

    def label_lists(flags):
        return [[label for label, mask in flags.items() if mask.iloc[row]] for row in range(len(frame))]

    days_rest, b2b = pcf.safe_int(frame["days_rest"], 0), pcf.safe_bool(frame["back_to_back"], False)
    games, minutes = pcf.safe_int(frame["games_in_last_7_days"], 0), pcf.safe_float(frame["minutes_in_last_7_days"], 0.0)
    age = pcf.safe_int(frame["player_age"], 25)
    projected = pcf.safe_float(frame["projected_usage_rate"], 0.0)
    baseline = pcf.safe_float(frame["avg_usage_rate_last_7_games"], 0.0)
    diff = pcf.safe_float(frame["pace_differential"], 0.0)
    shot_zone = dumps({
        "player_primary_zone": frame["primary_scoring_zone"].astype(object).where(
            frame["primary_scoring_zone"].notna(), "unknown"),
        "primary_zone_frequency": pcf.safe_float(pcf._zone_pick(frame, pcf.ZONE_RATE_COLUMNS), 0.0),
        "opponent_weak_zone": frame["weakest_zone"].astype(object).where(frame["weakest_zone"].notna(), "unknown"),
        "opponent_defense_vs_league": pcf.safe_float(pcf._zone_pick(frame, pcf.ZONE_DEFENSE_COLUMNS), 0.0),
        "mismatch_type": pcf._three_way(zone, 2.0, -2.0, ["favorable", "unfavorable", "neutral"]),
        "final_score": zone.astype("float64"),
    })
    return {
        "fatigue_context_json": dumps({
            "days_rest": days_rest, "back_to_back": b2b, "games_last_7": games, "minutes_last_7": minutes,
            "avg_minutes_pg_last_7": pcf.safe_float(frame["avg_minutes_per_game_last_7"], 0.0),
            "back_to_backs_last_14": pcf.safe_int(frame["back_to_backs_last_14_days"], 0), "player_age": age,
            "penalties_applied": label_lists({
                "back_to_back: -15": b2b, "frequent_games: -10": games >= 4,
                "heavy_minutes: -10": minutes > 240, "veteran_age: -10": age >= 35}),
            "bonuses_applied": label_lists({"extra_rest: +5": days_rest >= 3}),
            "final_score": fatigue.astype("int64"),
        }),
        "shot_zone_context_json": [text if ok else json.dumps({"missing_data": True})
                                   for text, ok in zip(shot_zone, pcf.has_zone_rows(frame))],
        "pace_context_json": dumps({
            "pace_differential": diff,
            "opponent_pace_last_10": pcf.safe_float(frame["opponent_pace_last_10"], 100.0),
            "league_avg_pace": pcf.LEAGUE_AVG_PACE,
            "pace_environment": pcf._three_way(diff, 2.0, -2.0, ["fast", "slow", "normal"]),
            "final_score": pace.astype("float64"),
        }),
        "usage_context_json": dumps({
            "projected_usage_rate": projected, "avg_usage_last_7": baseline, "usage_differential": projected - baseline,
            "star_teammates_out": pcf.safe_int(frame["star_teammates_out"], 0),
            "usage_trend": pcf._three_way(projected - baseline, 2.0, -2.0, ["spike", "drop", "stable"]),
            "final_score": usage.astype("float64"),
        }),
    }


def test_context_json_of_random_rows_equals_the_per_value_references():
    inputs = random_inputs(3000, seed=11)
    out = pcf.compute_factors(inputs)
    frame = pcf.normalise_inputs(inputs)
    fatigue = pcf.fatigue_score(frame)
    expected = reference_context_columns(frame, fatigue, pcf.shot_zone_mismatch_score(frame), pcf.pace_score(frame),
                                         pcf.usage_spike_score(frame))
    for name, texts in expected.items():
        assert out[name].tolist() == texts, name
