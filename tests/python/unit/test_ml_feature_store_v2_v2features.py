"""Version 2 of ml_feature_store_v2 (models/predictions/ml_feature_store_v2_v2.py, imported by path, no dbt):
the 12 new features and the v2 quality rules against hand-computed values, and the feature_versions
seed as a contract (released versions never change).
"""

import csv
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
SEED_PATH = ROOT / "seeds" / "feature_versions.csv"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


v2 = _load("ml_feature_store_v2_v2", ROOT / "models" / "predictions" / "ml_feature_store_v2_v2.py")
v1 = _load("ml_feature_store_v2", ROOT / "models" / "predictions" / "ml_feature_store_v2.py")

NAN = np.nan


def seed_rows():
    with SEED_PATH.open(newline="") as handle:
        return {row["feature_version"]: row for row in csv.DictReader(handle)}


def history(*games):
    """One row of the n x 10 history matrix (newest first), NaN beyond the games given."""
    return np.array([list(games) + [NAN] * (10 - len(games))], dtype="float64")


# ---------------------------------------------------------------------------------------------------
# The seed is the contract of each version
# ---------------------------------------------------------------------------------------------------

# sha256 of the '|'-joined names of every released version. A released version's names and order
# never change (models trained on it read features by position): a new or renamed feature goes into
# a NEW version, appended as a new seed row (docs/feature_versions.md). Never edit these hashes to make
# this test pass; add the new version's hash instead.
RELEASED = {
    "v1_baseline_25": "28031f15b0f504915fd263af41662d4005ee816a8ea56d16d395f587b1a6f739",
    "v2_37features": "cdab0d678b0292842341cade228da8a85c5b0f57303c504baff5e027f894536f",
}


def test_released_versions_keep_their_names_and_order():
    rows = seed_rows()
    for version, digest in RELEASED.items():
        assert version in rows, f"released version {version} was removed from seeds/feature_versions.csv; released versions are never removed"
        names = rows[version]["feature_names"]
        assert hashlib.sha256(names.encode()).hexdigest() == digest, (
            f"the names of released version {version} changed in seeds/feature_versions.csv. Released versions never "
            "change (models trained on them read features by position): restore the row and append the new list as a new "
            "version (e.g. v3_...), see docs/feature_versions.md")
        assert int(rows[version]["feature_count"]) == len(names.split("|")), version


def test_each_version_extends_the_previous_one():
    rows = list(seed_rows().values())
    for earlier, later in zip(rows, rows[1:]):
        first, second = earlier["feature_names"].split("|"), later["feature_names"].split("|")
        assert second[: len(first)] == first, f"{later['feature_version']} must keep {earlier['feature_version']}'s names first"
        assert len(set(second)) == len(second)


def test_the_models_names_are_the_seeds():
    rows = seed_rows()
    assert v1.FEATURE_NAMES == rows["v1_baseline_25"]["feature_names"].split("|")
    seed = pd.DataFrame(list(rows.values()))
    assert v2.names_from_seed(seed, v1.FEATURE_NAMES) == v1.FEATURE_NAMES + v2.NEW_FEATURES
    with pytest.raises(ValueError, match="this model computes"):
        v2.names_from_seed(seed, v1.FEATURE_NAMES[:-1] + ["renamed"])


def test_version_2_has_version_1s_columns():
    assert v2.OUTPUT_TYPES == v1.OUTPUT_TYPES


# ---------------------------------------------------------------------------------------------------
# Features 25-28: market
# ---------------------------------------------------------------------------------------------------


def test_market_features_with_and_without_a_line():
    values, labels = v2.market_features([24.5, NAN, 18.5], [22.5, NAN, NAN])
    # a line: current, opening, move = 24.5 - 22.5, has_prop_line 1
    assert values[0].tolist() == [24.5, 22.5, 2.0, 1.0] and labels[0].tolist() == ["market"] * 4
    # no line before tip-off: every market feature missing (stored 0.0: BigQuery refuses NULL elements)
    assert values[1].tolist() == [0.0, 0.0, 0.0, 0.0] and labels[1].tolist() == ["missing"] * 4
    # one snapshot only: it is the opening too, so the move is 0
    assert values[2].tolist() == [18.5, 18.5, 0.0, 1.0]


# ---------------------------------------------------------------------------------------------------
# Features 29-36: history
# ---------------------------------------------------------------------------------------------------


def test_avg_points_vs_opponent_falls_back_to_the_season_then_the_default():
    values, labels = v2.avg_points_vs_opponent([21.5, NAN, NAN], [2, 0, 0], [18.0, 17.25, NAN])
    assert values.tolist() == [21.5, 17.25, 10.0]
    assert labels.tolist() == ["phase3", "calculated", "default"]


def test_minutes_and_points_per_minute_over_the_last_10_played_games():
    minutes = np.vstack([history(30, 20, 40), history()])
    points = np.vstack([history(15, 4, 30), history()])
    avg, avg_labels = v2.minutes_avg_last_10(minutes)
    assert avg[0] == pytest.approx(30.0) and avg_labels[0] == "phase3"  # (30 + 20 + 40) / 3
    assert avg[1] == 20.0 and avg_labels[1] == "default"
    ppm, ppm_labels = v2.ppm_avg_last_10(points, minutes)
    assert ppm[0] == pytest.approx((0.5 + 0.2 + 0.75) / 3) and ppm_labels[0] == "phase3"
    assert ppm[1] == 0.5 and ppm_labels[1] == "default"


def test_points_per_minute_leaves_out_a_game_without_minutes():
    ppm, _ = v2.ppm_avg_last_10(history(10, 3), history(20, 0))
    assert ppm[0] == pytest.approx(0.5)  # 10 / 20; the 0-minute game has no rate


def test_dnp_rate_needs_three_rows():
    assert v2.dnp_rate([10, 4, 2, 0], [3, 1, 1, 0]).tolist() == [0.3, 0.25, 0.0, 0.0]


def test_points_slope_is_the_least_squares_slope_oldest_first():
    # newest first 20, 15, 10 -> oldest first 10, 15, 20: slope +5 a game
    # newest first 8, 12, 10, 14 -> oldest first 14, 10, 12, 8: x = -1.5..1.5, sum(x*y) = -21 + -5 + 6 + 12 = -8,
    # sum(x^2) = 5 -> -1.6
    points = np.vstack([history(20, 15, 10), history(8, 12, 10, 14), history(30, 10)])
    assert v2.pts_slope_10g(points, [3, 4, 2]).tolist() == pytest.approx([5.0, -1.6, 0.0])


def test_zscore_and_breakout_against_the_season_mean():
    # last 10: 30, 30, 30, 30, 30, 10, 10, 10, 10, 10 -> last-5 mean 30, sample std of the 10 = sqrt(1000 / 9)
    points = history(30, 30, 30, 30, 30, 10, 10, 10, 10, 10)
    std = np.sqrt(10 * 100.0 / 9)
    season = [20.0]
    z = v2.pts_vs_season_zscore(points, [10], season)
    assert z[0] == pytest.approx(10.0 / std)  # (30 - 20) / 10.54 = 0.949
    assert v2.breakout_flag(points, [10], season)[0] == 0.0  # 10 < 1.5 * 10.54
    assert v2.breakout_flag(points, [10], [10.0])[0] == 1.0  # 20 > 15.81
    assert v2.pts_vs_season_zscore(points, [10], [-30.0])[0] == 3.0  # 60 / 10.54 = 5.7, clipped to 3


def test_zscore_is_0_below_5_games_with_no_spread_or_no_season_mean():
    four = history(30, 30, 10, 10)
    flat = history(12, 12, 12, 12, 12)
    assert v2.pts_vs_season_zscore(four, [4], [10.0])[0] == 0.0
    assert v2.pts_vs_season_zscore(flat, [5], [10.0])[0] == 0.0
    assert v2.breakout_flag(four, [4], [0.0])[0] == 0.0
    assert v2.pts_vs_season_zscore(history(30, 20, 10, 20, 30), [5], [NAN])[0] == 0.0


def test_new_features_of_a_prepared_row():
    row = {"prop_line_current": 20.5, "prop_line_opening": 19.5, "games_vs_opponent": 1, "points_avg_vs_opponent": 25.0,
           "points_avg_season": 15.0, "rows_last_10": 4, "dnp_rows_last_10": 1, "played_games_last_10": 3,
           "points_1": 18.0, "points_2": 12.0, "points_3": 6.0, "minutes_1": 30.0, "minutes_2": 24.0, "minutes_3": 20.0}
    values, labels = v2.new_features(pd.DataFrame([row]))
    assert values[0].tolist() == pytest.approx([20.5, 19.5, 1.0, 1.0, 25.0, 1.0, 74 / 3, (0.6 + 0.5 + 0.3) / 3, 0.25, 6.0, 0.0, 0.0])
    assert labels[0].tolist() == ["market"] * 4 + ["phase3"] * 4 + ["calculated"] * 4


# ---------------------------------------------------------------------------------------------------
# Quality (spec 11)
# ---------------------------------------------------------------------------------------------------


def labels(required, market="market"):
    return [required + [market] * 4]


def test_missing_market_features_are_left_out_of_the_average():
    # 33 required: 30 phase4 + 3 phase3 -> (3000 + 225) / 33 = 97.727 -> 97.73; with a line, 4 x 100 more -> 3625 / 37 = 97.97
    required = ["phase4"] * 30 + ["phase3"] * 3
    assert v2.quality_score(labels(required, "missing"))[0].tolist() == [97.73]
    assert v2.quality_score(labels(required, "market"))[0].tolist() == [97.97]


def test_one_default_caps_at_69_five_at_49():
    one = ["phase4"] * 32 + ["default"]  # plain mean 3240 / 37 = 87.57
    four = ["phase4"] * 29 + ["default"] * 4
    five = ["phase4"] * 28 + ["default"] * 5  # plain mean 3200 / 37 = 86.49
    scores, counts = v2.quality_score(labels(one) + labels(four) + labels(five))
    assert scores.tolist() == [69.0, 69.0, 49.0] and counts.tolist() == [1, 4, 5]
    # a cap never raises a lower score: 20 defaults -> (13 x 100 + 20 x 40 + 400) / 37 = 67.57 -> 49
    low, _ = v2.quality_score(labels(["phase3"] * 13 + ["default"] * 20))
    assert low.tolist() == [49.0]
    assert v2.quality_tier([69.0, 49.0, 97.73]).tolist() == ["bronze", "poor", "gold"]


def test_data_source_ignores_the_market_features():
    assert v2.data_source(labels(["phase4"] * 30 + ["phase3"] * 3, "missing")).tolist() == ["phase4"]
    assert v2.data_source(labels(["phase4"] * 16 + ["phase3"] * 17)).tolist() == ["phase3"]


def test_each_model_version_has_one_feature_set_named_after_it_and_the_latest_is_active():
    """The model's `versions:` in YAML (the source of truth) against the seed's ids, which start with
    `v<model version>_` (`make training-set VERSION=n` finds a version by it), and its active row."""
    import yaml

    spec = yaml.safe_load((ROOT / "models/predictions/ml_feature_store_v2.yml").read_text())
    store = next(model for model in spec["models"] if model["name"] == "ml_feature_store_v2")
    versions = sorted(int(entry["v"]) for entry in store["versions"])
    rows = seed_rows()
    assert sorted(int(name.split("_")[0].removeprefix("v")) for name in rows) == versions
    active = [name for name, row in rows.items() if row["active"].lower() == "true"]
    assert active == [f"v{store['latest_version']}_" + active[0].split("_", 1)[1]]
