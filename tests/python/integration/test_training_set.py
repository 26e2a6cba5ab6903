"""Tests of `make training-set` (scripts/training_set.py) and `make evaluate` (scripts/evaluate.py)
on one demo project built once for the module (one dbt invocation).

Expectations are derived independently of the scripts: row counts from the feature store, the
schedule and the raw box scores; feature names from the feature_versions seed; MAEs, the hit rate
and the least-squares fit recomputed from the exported Parquet file with plain Python / normal
equations.
"""
from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from dbt_harness import REPO, DbtProject

sys.path.insert(0, str(REPO / "scripts"))
import training_set  # noqa: E402

START, END = "2021-11-01", "2021-12-01"  # 2021-12-01 is the unplayed slate: no final game
PGS = "nba_analytics.player_game_summary"


def make(project: DbtProject, target: str, **variables) -> subprocess.CompletedProcess:
    env = {**project.env, "DBT_DUCKDB_PATH": str(project.db)}
    args = ["make", "--no-print-directory", target] + [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)


def script(project: DbtProject, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), "--db", str(project.db), *args],
                          cwd=REPO, env=project.env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory, full_build):
    """A copy of the session's full build of the demo: ml_training_examples holds START..END."""
    workdir = tmp_path_factory.mktemp("training_set")
    project = DbtProject(workdir, full_build.db)
    return project, workdir


@pytest.fixture(scope="module")
def exported(built):
    project, workdir = built
    out = workdir / "export" / "examples.parquet"
    result = make(project, "training-set", START=START, END=END, OUT=out)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((workdir / "export" / "examples.manifest.json").read_text())
    return project, out, manifest, result


def expected_counts(project: DbtProject, min_quality=None) -> dict:
    """Row counts from the feature store, the schedule and the raw box scores (not the model)."""
    final = {row[0] for row in project.query(
        f"select game_id from nba_raw.nbac_schedule where game_status = 3 and game_date between '{START}' and '{END}'")}
    played = {(row[0], row[1]) for row in project.query(
        f"select player_lookup, game_id from {PGS} where is_active and (minutes_played > 0 or points > 0)")}
    counts = {"total": 0, "early_season": 0, "did_not_play": 0, "below_min_quality": 0}
    for player, game_id, early, quality in project.query(
            "select player_lookup, game_id, early_season_flag, feature_quality_score "
            f"from dev_nba_predictions.ml_feature_store_v2 where game_date between '{START}' and '{END}'"):
        if game_id not in final:
            continue
        counts["total"] += 1
        if early:
            counts["early_season"] += 1
        elif (player, game_id) not in played:
            counts["did_not_play"] += 1
        elif min_quality is not None and quality < min_quality:
            counts["below_min_quality"] += 1
    return counts


def seed_feature_names() -> list[str]:
    with open(REPO / "seeds" / "feature_versions.csv") as handle:
        row = next(r for r in csv.DictReader(handle) if r["feature_version"] == "v1_baseline_25")
    return row["feature_names"].split("|")


# --- make training-set ----------------------------------------------------------------------------


@pytest.mark.check
def test_export_counts_rows_and_reasons(exported):
    project, out, manifest, result = exported
    expected = expected_counts(project)
    counts = manifest["row_counts"]
    assert counts["total"] == expected["total"] > 0
    assert counts["filtered_out"] == {"early_season": expected["early_season"], "did_not_play": expected["did_not_play"]}
    assert counts["exported"] == expected["total"] - expected["early_season"] - expected["did_not_play"]
    assert pq.read_metadata(out).num_rows == counts["exported"]
    final_games = project.query("select count(*) from nba_raw.nbac_schedule "
                                f"where game_status = 3 and game_date between '{START}' and '{END}'")[0][0]
    assert counts["final_games_in_schedule"] == counts["final_games_with_examples"] == final_games
    assert "warning" not in result.stderr
    assert f"{counts['exported']:,} of {counts['total']:,} examples exported" in result.stdout
    assert manifest["window"] == {"start": START, "end": END}
    assert manifest["filters"]["min_quality"] is None


def test_export_has_one_column_per_feature_and_the_array(exported):
    _, out, manifest, _ = exported
    names = seed_feature_names()
    assert manifest["feature_names"] == names and manifest["feature_version"] == "v1_baseline_25"
    table = pq.read_table(out)
    assert set(names) <= set(table.column_names)
    assert not {"data_hash", "created_at", "processed_at"} & set(table.column_names)
    features = table["features"].to_pylist()
    for index, name in enumerate(names):
        assert table[name].to_pylist() == [vector[index] for vector in features], name
    rows = table.select(["played", "early_season_flag"]).to_pylist()
    assert all(row["played"] and not row["early_season_flag"] for row in rows)


def test_export_split_is_by_date_without_overlap(exported):
    _, out, manifest, _ = exported
    table = pq.read_table(out, columns=["game_date", "split"]).to_pylist()
    dates_by_split = {}
    for row in table:
        dates_by_split.setdefault(row["split"], set()).add(row["game_date"])
    assert set(dates_by_split) == {"train", "validation", "test"}
    train, validation, test = (sorted(dates_by_split[name]) for name in ("train", "validation", "test"))
    assert train[-1] < validation[0] and validation[-1] < test[0]  # no date in two splits, in time order
    every_date = len(train) + len(validation) + len(test)
    assert len(train) >= 0.6 * every_date and 1 <= len(test) <= 0.25 * every_date
    for name, dates in (("train", train), ("validation", validation), ("test", test)):
        assert manifest["split"][name]["dates"] == [dates[0].isoformat(), dates[-1].isoformat()]
        assert manifest["split"][name]["rows"] == sum(1 for row in table if row["split"] == name)


def test_manifest_hashes_the_file_and_the_code(exported):
    _, out, manifest, _ = exported
    assert manifest["file"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    code = manifest["code_version"]
    assert len(code["project_files_sha256"]) == 64 and code["project_files"] > 20
    model = (REPO / "models" / "predictions" / "ml_training_examples.sql").read_bytes()
    assert code["project_files_sha256"] != hashlib.sha256(model).hexdigest()  # all model files, not one


def test_min_quality_filters_and_counts(built, exported, tmp_path):
    project, _ = built
    _, unfiltered, _, _ = exported
    quality = 90
    out = tmp_path / "q.parquet"
    result = script(project, "training_set.py", "--start", START, "--end", END, "--min-quality", str(quality),
                    "--out", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "q.manifest.json").read_text())
    scores = [float(s) for s in pq.read_table(unfiltered, columns=["feature_quality_score"])["feature_quality_score"].to_pylist()]
    below = sum(1 for score in scores if score < quality)
    assert 0 < below < len(scores)
    assert manifest["row_counts"]["filtered_out"]["below_min_quality"] == below == expected_counts(project, quality)["below_min_quality"]
    assert manifest["row_counts"]["exported"] == len(scores) - below == pq.read_metadata(out).num_rows
    assert manifest["filters"]["min_quality"] == quality


def test_long_exports_show_progress_and_cut_even_row_groups(built, tmp_path, monkeypatch, capsys):
    project, _ = built
    monkeypatch.setattr(training_set, "BATCH_ROWS", 1000)
    args = training_set.window_parser("test").parse_args(["--db", str(project.db), "--start", START, "--end", END])
    args.out = str(tmp_path / "p.parquet")
    manifest = training_set.export(args)
    progress = [line for line in capsys.readouterr().err.splitlines() if "exported" in line]
    exported_rows = manifest["row_counts"]["exported"]
    assert len(progress) == -(-exported_rows // 1000) and progress[-1].endswith("(100 %)")
    groups = pq.ParquetFile(tmp_path / "p.parquet").metadata
    assert [groups.row_group(i).num_rows for i in range(groups.num_row_groups)][:-1] == [1000] * (groups.num_row_groups - 1)


def test_window_without_final_games_is_an_error_and_writes_nothing(built, tmp_path):
    project, _ = built
    out = tmp_path / "none.parquet"
    result = script(project, "training_set.py", "--start", "2021-12-01", "--end", "2021-12-05", "--out", str(out))
    assert result.returncode == 2
    assert "window 2021-12-01 to 2021-12-05 holds no final game" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("variables", "message"), [
    ({"START": START}, "make training-set needs START=YYYY-MM-DD END=YYYY-MM-DD"),
    ({"START": "2021-11-31", "END": END}, "argument --start: '2021-11-31' is not a date as YYYY-MM-DD"),
    ({"START": END, "END": START}, f"START ({END}) is after END ({START})"),
    ({"START": START, "END": END, "MIN_QUALITY": "high"}, "argument --min-quality: 'high' is not a number"),
    ({"START": START, "END": END, "MIN_QUALITY": "120"}, "120.0 is outside 0-100"),
])
def test_bad_arguments_are_named(built, variables, message):
    project, _ = built
    result = make(project, "training-set", **variables)
    assert result.returncode != 0 and message in result.stdout + result.stderr, result.stdout + result.stderr


def test_missing_database_or_model_is_named(built, tmp_path):
    project, _ = built
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "training_set.py"), "--db", str(tmp_path / "no.duckdb"),
                             "--start", START, "--end", END], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "no.duckdb does not exist" in result.stderr
    result = script(project, "training_set.py", "--start", START, "--end", END, "--schema", "main")
    assert result.returncode == 2 and "main.ml_training_examples does not exist" in result.stderr


# --- make evaluate --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def evaluated(built, exported):
    project, workdir = built
    out = workdir / "evaluation" / "page.html"
    result = make(project, "evaluate", START=START, END=END, OUT=out)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.with_suffix(".json").read_text()), out, result


class ScriptTags(HTMLParser):
    """Counts <script> tags and lists their src attributes (script bodies are not parsed as HTML)."""

    def __init__(self):
        super().__init__()
        self.count, self.external = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.count += 1
            self.external += [value for name, value in attrs if name == "src"]


def independent_figures(rows: list[dict]) -> dict:
    """MAEs and the hit rate of a group of exported rows, one plain Python pass."""
    def mean(values):
        return sum(values) / len(values) if values else None
    line_rows = [r for r in rows if r["current_points_line"] is not None]
    bets = [r for r in line_rows if not r["push"] and r["points_avg_last_10"] != r["current_points_line"]]
    hits = [(r["points_avg_last_10"] > r["current_points_line"]) == r["over_line"] for r in bets]
    return {
        "rows": len(rows),
        "rows_with_line": len(line_rows),
        "mean_actual_points": mean([r["actual_points"] for r in rows]),
        "mae_line": mean([abs(r["actual_points"] - r["current_points_line"]) for r in line_rows]),
        "mae_points_avg_last_10": mean([abs(r["actual_points"] - r["points_avg_last_10"]) for r in rows]),
        "mae_points_avg_season": mean([abs(r["actual_points"] - r["points_avg_season"]) for r in rows]),
        "hit_rate_last_10_vs_line": mean(hits),
        "hit_rate_bets": len(bets),
    }


def test_evaluate_baselines_by_tier_and_source(exported, evaluated):
    _, parquet, _, _ = exported
    result, _, _ = evaluated
    rows = pq.read_table(parquet).to_pylist()
    for scope, scoped in (("all_rows", rows), ("test", [r for r in rows if r["split"] == "test"])):
        groups = {"overall": {"all": scoped}}
        for column in ("quality_tier", "data_source"):
            for row in scoped:
                groups.setdefault(column, {}).setdefault(row[column], []).append(row)
        assert set(result[scope]) == set(groups)
        for grouping, members in groups.items():
            assert set(result[scope][grouping]) == set(members), (scope, grouping)
            for group, group_rows in members.items():
                figures = result[scope][grouping][group]
                for name, value in independent_figures(group_rows).items():
                    assert figures[name] == pytest.approx(value, abs=1e-9), (scope, grouping, group, name)


def test_evaluate_fit_matches_the_normal_equations(exported, evaluated):
    _, parquet, manifest, _ = exported
    result, _, _ = evaluated
    names = manifest["feature_names"]
    table = pq.read_table(parquet).to_pandas()
    train, test = table[table["split"] == "train"], table[table["split"] == "test"]
    x = np.column_stack([np.ones(len(train)), train[names].to_numpy(float)])
    # Solve (X'X) b = X'y, with the pseudo-inverse for the constant columns (playoff_game is 0 in November).
    coefficients = np.linalg.pinv(x.T @ x) @ (x.T @ train["actual_points"].to_numpy(float))
    predicted = coefficients[0] + test[names].to_numpy(float) @ coefficients[1:]
    assert result["fit"]["train_rows"] == len(train)
    overall = result["test"]["overall"]["all"]
    assert overall["mae_least_squares"] == pytest.approx(np.mean(np.abs(predicted - test["actual_points"])), rel=1e-6)
    for tier, part in test.groupby("quality_tier"):
        mask = (test["quality_tier"] == tier).to_numpy()
        assert result["test"]["quality_tier"][tier]["mae_least_squares"] == pytest.approx(
            np.mean(np.abs(predicted[mask] - part["actual_points"])), rel=1e-6)
    # The fit explains points better than a constant (the features carry signal).
    constant = np.mean(np.abs(test["actual_points"] - train["actual_points"].mean()))
    assert overall["mae_least_squares"] < constant


def test_evaluate_prints_a_table_and_writes_a_self_contained_page(evaluated):
    result, page, run = evaluated
    assert "MAE line" in run.stdout and "MAE fit" in run.stdout and "hit rate last-10 vs line" in run.stdout
    for tier in result["test"]["quality_tier"]:
        assert f"quality_tier  {tier}" in run.stdout
    html = page.read_text()
    # MAE and hit rate, by tier and by source, on the test split and on every row
    assert html.count("Plotly.newPlot") == 8
    scripts = ScriptTags()
    scripts.feed(html)
    assert scripts.count >= 9 and scripts.external == []  # the plotly bundle is embedded, nothing fetched
    assert len(html) > 1_000_000


def test_evaluate_errors_are_named(built):
    project, _ = built
    result = make(project, "evaluate", START=START)
    assert result.returncode != 0 and "make evaluate needs START=YYYY-MM-DD END=YYYY-MM-DD" in result.stdout
    result = script(project, "evaluate.py", "--start", "2021-12-01", "--end", "2021-12-05")
    assert result.returncode == 2 and "window 2021-12-01 to 2021-12-05 holds no final game" in result.stderr
    result = script(project, "evaluate.py", "--start", "2021-11-01", "--end", "2021-11-03")
    assert result.returncode == 2 and "a test split needs at least 3" in result.stderr


def test_final_games_without_examples_are_warned_about(built, tmp_path):
    project, _ = built
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(project.db.read_bytes())
    day = "2021-11-20"
    with duckdb.connect(str(copy)) as con:
        games = con.execute("select count(distinct game_id) from dev_nba_predictions.ml_training_examples "
                            f"where game_date = '{day}'").fetchone()[0]
        con.execute(f"delete from dev_nba_predictions.ml_training_examples where game_date = '{day}'")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "training_set.py"), "--db", str(copy),
                             "--start", START, "--end", END, "--out", str(tmp_path / "w.parquet")],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert games > 0 and f"warning: {games} final games of the window have no example yet" in result.stderr
