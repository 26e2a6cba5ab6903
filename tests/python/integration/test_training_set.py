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
    code = manifest["project_code"]
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
    """MAEs and hit rates of a group of exported rows, one plain Python pass: the line and the
    averages on the same rows (those with a line), the averages again on every row."""
    def mean(values):
        return sum(values) / len(values) if values else None
    line_rows = [r for r in rows if r["current_points_line"] is not None]
    figures = {
        "rows": len(rows),
        "line_rows": len(line_rows),
        "mean_actual_points": mean([r["actual_points"] for r in rows]),
        "mean_actual_points_line_rows": mean([r["actual_points"] for r in line_rows]),
        "mae_line_line_rows": mean([abs(r["actual_points"] - r["current_points_line"]) for r in line_rows]),
    }
    for key, column in (("last_10", "points_avg_last_10"), ("season", "points_avg_season")):
        figures[f"mae_{key}_line_rows"] = mean([abs(r["actual_points"] - r[column]) for r in line_rows])
        figures[f"mae_{key}_all_rows"] = mean([abs(r["actual_points"] - r[column]) for r in rows])
        bets = [r for r in line_rows if not r["push"] and r[column] != r["current_points_line"]]
        figures[f"hit_rate_{key}"] = mean([(r[column] > r["current_points_line"]) == r["over_line"] for r in bets])
        figures[f"bets_{key}"] = len(bets)
    return figures


def test_evaluate_baselines_by_tier_and_source(exported, evaluated):
    _, parquet, _, _ = exported
    result, _, _ = evaluated
    rows = pq.read_table(parquet).to_pylist()
    for scope, scoped in (("all_rows", rows), ("test", [r for r in rows if r["split"] == "test"])):
        groups = {"overall": {"all": scoped}}
        for column in ("quality_tier", "data_source", "season_year"):
            for row in scoped:
                groups.setdefault(column, {}).setdefault(str(row[column]), []).append(row)
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
    assert overall["mae_fit_all_rows"] == pytest.approx(np.mean(np.abs(predicted - test["actual_points"])), rel=1e-6)
    with_line = test["current_points_line"].notna().to_numpy()
    assert overall["mae_fit_line_rows"] == pytest.approx(
        np.mean(np.abs(predicted[with_line] - test["actual_points"][with_line])), rel=1e-6)
    for tier, part in test.groupby("quality_tier"):
        mask = (test["quality_tier"] == tier).to_numpy()
        assert result["test"]["quality_tier"][tier]["mae_fit_all_rows"] == pytest.approx(
            np.mean(np.abs(predicted[mask] - part["actual_points"])), rel=1e-6)
    # The fit explains points better than a constant (the features carry signal).
    constant = np.mean(np.abs(test["actual_points"] - train["actual_points"].mean()))
    assert overall["mae_fit_all_rows"] < constant
    # Calibration: mean actual points by decile of the prediction (ranked, ties in row order).
    order = np.argsort(predicted, kind="stable")
    decile_of = np.empty(len(predicted), dtype=int)
    decile_of[order] = np.arange(len(order)) * 10 // len(order)
    expected = [float(test["actual_points"].to_numpy()[decile_of == d].mean()) for d in range(10)]
    assert [row["mean_actual_points"] for row in result["calibration"]] == pytest.approx(expected, rel=1e-9)


def test_evaluate_prints_a_table_and_writes_a_self_contained_page(evaluated):
    result, page, run = evaluated
    assert "MAE line" in run.stdout and "MAE fit" in run.stdout and "hit rate last-10" in run.stdout
    for tier in result["test"]["quality_tier"]:
        assert f"quality_tier  {tier}" in run.stdout
    html = page.read_text()
    # MAE by tier and by source (line rows), per season, all rows, hit rates, calibration, versions
    assert html.count("Plotly.newPlot") == 7
    assert "Feature-set versions on the same" in html and "v2_37features" in html
    scripts = ScriptTags()
    scripts.feed(html)
    assert scripts.count >= 8 and scripts.external == []  # the plotly bundle is embedded, nothing fetched
    # readable text: no Python dict or list in the page's text
    assert "{'" not in html.split("<script")[0] and "['" not in html.split("<script")[0]
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


# --- Output paths, one-unit replacement, messages (issue 24 points 4 and 8) -------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refused_outputs(project: DbtProject, workdir: Path) -> list[tuple[str, str]]:
    """(OUT, the reason the message must give) for every kind of output path that must be refused."""
    other_db = workdir / "other.parquet"  # a DuckDB database under a Parquet name
    with duckdb.connect(str(other_db)) as con:
        con.execute("create table t as select 1 as x")
    link = workdir / "link.html"
    link.unlink(missing_ok=True)
    link.symlink_to(project.db)
    return [
        (str(project.db), "is the DuckDB database"),
        (str(project.db.parent / ".." / project.db.parent.name / project.db.name), "is the DuckDB database"),
        (str(link), "is the DuckDB database"),
        (str(other_db), "is an existing DuckDB database"),
        (str(workdir), "is a directory"),
        (str(workdir / "wrong.csv"), "does not end in"),
    ]


@pytest.mark.parametrize("target", ["training-set", "evaluate", "report"])
def test_out_that_is_the_database_a_directory_or_wrong_suffix_is_refused(built, tmp_path, target):
    project, _ = built
    before = sha256_file(project.db)
    for out, reason in refused_outputs(project, tmp_path):
        other = tmp_path / "other.parquet"
        other_before = sha256_file(other)
        if target == "report":
            result = make(project, "report", DB=project.db, OUT=out)
        else:
            result = make(project, target, START=START, END=END, OUT=out)
        output = result.stdout + result.stderr
        assert result.returncode != 0, (out, output)
        assert f"OUT={out} {reason}" in result.stderr, (out, output)
        assert "Traceback" not in output
        assert sha256_file(project.db) == before and sha256_file(other) == other_before, out
    assert not (tmp_path / "wrong.csv").exists() and not list(tmp_path.glob("*.partial"))
    assert project.query("select count(*) from dev_nba_predictions.ml_training_examples")[0][0] > 0


def export_args(project: DbtProject, out: Path, *extra: str):
    args = training_set.window_parser("test").parse_args(["--db", str(project.db), "--start", START, "--end", END, *extra])
    args.out = str(out)
    return args


def assert_pair_consistent(out: Path, expected_sha: str) -> None:
    """The manifest beside the file describes it, and it is the expected file; nothing else is there."""
    manifest = json.loads(training_set.manifest_path(out).read_text())
    assert manifest["file"]["sha256"] == sha256_file(out) == expected_sha
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, training_set.manifest_path(out).name])


def test_a_failure_between_data_and_manifest_keeps_the_old_pair(built, tmp_path, monkeypatch):
    """A new export (another filter: other rows, other bytes) that fails after its data is written
    leaves the old data with the old manifest and no temporary file: the manifest step itself, then
    every rename of the swap in turn."""
    import output_files

    project, _ = built
    out = tmp_path / "pair" / "examples.parquet"
    training_set.export(export_args(project, out))
    old = sha256_file(out)

    def broken_project_code():
        raise RuntimeError("injected: manifest step failed")

    with monkeypatch.context() as patch:  # fails while the manifest is built, after the data is written
        patch.setattr(training_set, "project_code", broken_project_code)
        with pytest.raises(RuntimeError, match="injected"):
            training_set.export(export_args(project, out, "--min-quality", "90"))
    assert_pair_consistent(out, old)

    real_rename = output_files._rename
    renames = 4  # old manifest away, old data away, new data in, new manifest in
    for failing in range(1, renames + 1):
        calls = []

        def rename(source, target, failing=failing):
            calls.append(target)
            if len(calls) == failing:
                raise OSError(f"injected: rename {failing} failed")
            real_rename(source, target)

        with monkeypatch.context() as patch:
            patch.setattr(output_files, "_rename", rename)
            with pytest.raises(OSError, match="injected"):
                training_set.export(export_args(project, out, "--min-quality", "90"))
        assert_pair_consistent(out, old)

    manifest = training_set.export(export_args(project, out, "--min-quality", "90"))  # and without a failure
    assert_pair_consistent(out, manifest["file"]["sha256"])
    assert manifest["file"]["sha256"] != old and manifest["filters"]["min_quality"] == 90


def store_rows(project: DbtProject) -> dict:
    """{(player, date): (feature_sources, default_feature_count, is_training_ready)} of the feature
    store's rows that an export keeps (final game, not early season, played by the raw box scores)."""
    final = {row[0] for row in project.query(
        f"select game_id from nba_raw.nbac_schedule where game_status = 3 and game_date between '{START}' and '{END}'")}
    played = {(row[0], row[1]) for row in project.query(
        f"select player_lookup, game_id from {PGS} where is_active and (minutes_played > 0 or points > 0)")}
    return {(player, day): (sources, defaults, ready) for player, day, game_id, sources, defaults, ready in project.query(
        "select player_lookup, game_date, game_id, feature_sources, default_feature_count, is_training_ready "
        f"from dev_nba_predictions.ml_feature_store_v2 where game_date between '{START}' and '{END}' "
        "and not early_season_flag") if game_id in final and (player, game_id) in played}


def test_export_carries_the_provenance_of_the_store(built, exported):
    project, _ = built
    _, out, manifest, _ = exported
    expected = store_rows(project)
    rows = pq.read_table(out, columns=["player_lookup", "game_date", "feature_sources", "default_feature_count",
                                       "is_training_ready"]).to_pylist()
    got = {(r["player_lookup"], r["game_date"]): (r["feature_sources"], r["default_feature_count"], r["is_training_ready"])
           for r in rows}
    assert got == expected
    ready = sum(1 for value in expected.values() if value[2])
    with_defaults = sum(1 for value in expected.values() if value[1] > 0)
    assert 0 < ready < len(expected) and with_defaults > 0
    assert manifest["provenance"] == {"columns": ["feature_sources", "default_feature_count", "is_training_ready"],
                                      "training_ready_rows": ready, "rows_with_default_features": with_defaults}


def test_ready_only_exports_the_training_ready_rows_and_records_the_filter(built, tmp_path):
    project, _ = built
    out = tmp_path / "ready.parquet"
    result = make(project, "training-set", START=START, END=END, OUT=out, READY_ONLY=1)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "ready.manifest.json").read_text())
    expected = store_rows(project)
    ready = {key for key, value in expected.items() if value[2]}
    rows = pq.read_table(out, columns=["player_lookup", "game_date"]).to_pylist()
    assert {(r["player_lookup"], r["game_date"]) for r in rows} == ready and len(rows) == len(ready)
    assert manifest["filters"]["training_ready_only"] is True
    assert manifest["filters"]["dropped"] == ["early_season", "did_not_play", "not_training_ready"]
    assert manifest["row_counts"]["filtered_out"]["not_training_ready"] == len(expected) - len(ready) > 0
    assert manifest["row_counts"]["exported"] == len(ready)


# --- The evaluation on a tiny hand-made table --------------------------------------------------------

# Two features (points_avg_last_10, points_avg_season); five dates: train D1-D3, validation D4, test D5.
# On the train rows actual = 2 * last-10 - season + 1 exactly, so the fit is that formula.
TINY_DATES = ["2022-01-03", "2022-01-04", "2022-01-05", "2022-01-06", "2022-01-07"]
TINY_TRAIN = [(0, 10, 8), (0, 20, 15), (1, 12, 12), (1, 5, 9), (2, 30, 22), (2, 7, 3)]  # (date, last-10, season)
# test rows on D5: (last-10, season, line, actual); fit = 2 * last-10 - season + 1
TINY_TEST = [(20, 18, 21.5, 25),  # fit 23: line 3.5, last-10 5, season 7, fit 2 off; over: only the fit calls it
             (10, 12, 9.5, 8),    # fit 9: line 1.5, last-10 2, season 4, fit 1 off; under: only the fit calls it
             (15, 15, None, 30),  # no line: fit 16
             (6, 4, None, 2)]     # no line: fit 9


def tiny_database(path: Path) -> Path:
    """Examples of two feature-set versions on the same rows: v1_tiny (last-10, season) and v2_tiny,
    which adds the actual points as a third feature (its fit is exact)."""
    rows = [(f"p{i}", TINY_DATES[d], l10, s, None, 2 * l10 - s + 1) for i, (d, l10, s) in enumerate(TINY_TRAIN)]
    rows.append(("v0", TINY_DATES[3], 10.0, 10.0, None, 10))
    rows += [(f"t{i}", TINY_DATES[4], l10, s, line, actual) for i, (l10, s, line, actual) in enumerate(TINY_TEST)]
    with duckdb.connect(str(path)) as con:
        con.execute("create schema dev_nba_predictions")
        con.execute("create table dev_nba_predictions.feature_versions (feature_version varchar, active boolean)")
        con.execute("insert into dev_nba_predictions.feature_versions values ('v1_tiny', true), ('v2_tiny', false)")
        con.execute("""create table dev_nba_predictions.ml_training_examples (
            player_lookup varchar, game_date date, game_id varchar, season_year integer, features double[], feature_names varchar[],
            feature_count integer, feature_version varchar, feature_quality_score double, quality_tier varchar,
            data_source varchar, early_season_flag boolean, played boolean, actual_points integer,
            current_points_line double, over_line boolean, push boolean, feature_sources varchar[],
            default_feature_count integer, is_training_ready boolean)""")
        for player, day, l10, s, line, actual in rows:
            outcome = [actual, line, None if line is None else actual > line, None if line is None else actual == line]
            con.execute("insert into dev_nba_predictions.ml_training_examples values "
                        "(?, ?, 'G' || ?, 2021, [?, ?], ['points_avg_last_10', 'points_avg_season'], 2, 'v1_tiny', 100, 'gold', "
                        "'phase4', false, true, ?, ?, ?, ?, ['phase4', 'phase4'], 0, true)",
                        [player, day, day, l10, s, *outcome])
            con.execute("insert into dev_nba_predictions.ml_training_examples values "
                        "(?, ?, 'G' || ?, 2021, [?, ?, ?], ['points_avg_last_10', 'points_avg_season', 'tomorrow'], 3, "
                        "'v2_tiny', 100, 'gold', 'phase4', false, true, ?, ?, ?, ?, ['phase4', 'phase4', 'phase4'], 0, true)",
                        [player, day, day, l10, s, actual, *outcome])
    return path


def plotted_figures(page: str) -> list[dict]:
    """The data and layout of every Plotly.newPlot call of the page."""
    decoder, figures = json.JSONDecoder(), []
    for part in page.split("Plotly.newPlot(")[1:]:
        rest = part[part.index(",") + 1:].lstrip()  # after the div id
        data, end = decoder.raw_decode(rest)
        layout, _ = decoder.raw_decode(rest[end:].lstrip(", \n"))
        figures.append({"data": data, "layout": layout})
    return figures


def test_evaluation_compares_the_line_with_the_others_on_the_same_rows(tmp_path):
    db = tiny_database(tmp_path / "tiny.duckdb")
    out = tmp_path / "tiny.html"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "evaluate.py"), "--db", str(db),
                             "--start", TINY_DATES[0], "--end", TINY_DATES[-1], "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.with_suffix(".json").read_text())["test"]["overall"]["all"]
    # hand-computed on the two test rows with a line (see TINY_TEST)
    same_rows = {"line": (3.5 + 1.5) / 2, "last-10 average": (5 + 2) / 2, "season average": (7 + 4) / 2,
                 "least-squares fit": (2 + 1) / 2}
    assert figures["line_rows"] == 2 and figures["rows"] == 4
    for key, label in (("line", "line"), ("last_10", "last-10 average"), ("season", "season average"),
                       ("fit", "least-squares fit")):
        assert figures[f"mae_{key}_line_rows"] == pytest.approx(same_rows[label]), key
    # every row, labelled as such: last-10 (5 + 2 + 15 + 4) / 4, season (7 + 4 + 15 + 2) / 4, fit (2 + 1 + 14 + 7) / 4
    assert figures["mae_last_10_all_rows"] == pytest.approx(6.5)
    assert figures["mae_season_all_rows"] == pytest.approx(7.0)
    assert figures["mae_fit_all_rows"] == pytest.approx(6.0)
    # hit rates: the averages call both wrong, the fit both right
    assert (figures["hit_rate_last_10"], figures["hit_rate_season"], figures["hit_rate_fit"]) == (0.0, 0.0, 1.0)
    assert figures["bets_last_10"] == figures["bets_fit"] == 2
    # every chart that shows the line beside another predictor shows the same-rows figures
    charts_with_line = [f for f in plotted_figures(out.read_text()) if any(t.get("name") == "line" for t in f["data"])]
    assert len(charts_with_line) == 3  # by tier and by source on the test split, per season (only test rows have a line)
    for chart in charts_with_line:
        for trace in chart["data"]:
            assert trace["y"] == [pytest.approx(same_rows[trace["name"]])], (chart["layout"]["title"]["text"], trace)
    # the hit-rate chart marks the break-even line of -110 odds
    page = out.read_text()
    assert "break-even 52.4%" in page


# --- Messages, not tracebacks ------------------------------------------------------------------------


@pytest.fixture
def locked_db(built, tmp_path):
    """A copy of the database with a write lock held by another process."""
    project, _ = built
    copy = tmp_path / "locked.duckdb"
    copy.write_bytes(project.db.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(120)", str(copy)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield copy, holder.pid
    holder.kill()
    holder.wait()


def test_report_on_a_missing_file_or_a_database_without_the_models_is_a_message(tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    cases = [(tmp_path / "missing.duckdb", "missing.duckdb does not exist"),
             (empty, "build them first: dbt build --select +slate_coverage +feature_health"),
             (tmp_path, "is a directory, not a DuckDB file")]
    for db, message in cases:
        result = subprocess.run([sys.executable, str(REPO / "scripts" / "feature_health_report.py"), "--db", str(db),
                                 "--out", str(tmp_path / "report.html")], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "report.html").exists()


def test_a_locked_database_is_a_message(built, locked_db, tmp_path):
    db, pid = locked_db
    for name in ("training_set.py", "feature_health_report.py"):
        out = tmp_path / ("x.parquet" if name == "training_set.py" else "x.html")
        args = ["--start", START, "--end", END] if name == "training_set.py" else []
        result = subprocess.run([sys.executable, str(REPO / "scripts" / name), "--db", str(db), "--out", str(out), *args],
                                capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 2, result.stderr
        assert f"database {db} is locked: process {pid} holds it" in result.stderr and "wait for it" in result.stderr
        assert "Traceback" not in result.stderr


def test_daily_on_a_locked_database_is_a_message(built, locked_db):
    project, _ = built
    db, pid = locked_db
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "daily.py"), "--date", "2021-11-20"],
                            capture_output=True, text=True, cwd=REPO, env={**project.env, "DBT_DUCKDB_PATH": str(db)})
    assert result.returncode == 1
    assert f"Daily run stopped, nothing was built: database {db} is locked: process {pid} holds it" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_evaluation_compares_the_feature_versions_on_the_same_rows(tmp_path):
    db = tiny_database(tmp_path / "tiny.duckdb")
    out = tmp_path / "tiny.html"
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "evaluate.py"), "--db", str(db),
                             "--start", TINY_DATES[0], "--end", TINY_DATES[-1], "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.with_suffix(".json").read_text())
    assert figures["feature_version"] == "v1_tiny"  # the tables read the active version
    compared = figures["version_comparison"]
    assert compared["rows"] == len(TINY_TRAIN) + 1 + len(TINY_TEST)
    v1, v2 = compared["versions"]["v1_tiny"], compared["versions"]["v2_tiny"]
    assert v1["test_rows"] == v2["test_rows"] == len(TINY_TEST)
    # hand-computed: v1's fit is 2 * last-10 - season + 1, off by 2, 1, 14 and 7 on the test rows
    assert v1["mae_fit_test"] == pytest.approx(6.0)
    # v2 adds the actual points as a feature: on the train rows it equals v1's fit (collinear), so the
    # least-squares solution is the minimum-norm one, derived here from the normal equations
    train = [(l10, s, 2 * l10 - s + 1) for _, l10, s in TINY_TRAIN]  # v0 (D4) is the validation split
    x = np.array([[1.0, l10, s, actual] for l10, s, actual in train])
    y = np.array([actual for _, _, actual in train], dtype=float)
    coefficients = np.linalg.pinv(x.T @ x) @ (x.T @ y)
    predicted = [coefficients @ [1.0, l10, s, actual] for l10, s, _, actual in TINY_TEST]
    expected = float(np.mean([abs(p - actual) for p, (_, _, _, actual) in zip(predicted, TINY_TEST)]))
    assert v2["mae_fit_test"] == pytest.approx(expected, rel=1e-6)
    assert v2["mae_fit_test"] < v1["mae_fit_test"]
    assert "v2_tiny" in result.stdout and f"{expected - 6.0:+.3f}" in result.stdout
    # a version that does not exist is named with the ones that do
    bad = subprocess.run([sys.executable, str(REPO / "scripts" / "training_set.py"), "--db", str(db),
                          "--start", TINY_DATES[0], "--end", TINY_DATES[-1], "--version", "3",
                          "--out", str(tmp_path / "x.parquet")], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2
    assert "--version '3' is no feature-set version: use one of 1 (v1_tiny), 2 (v2_tiny)" in bad.stderr


def test_training_set_version_2_exports_37_features_of_the_same_examples(built, exported, tmp_path):
    project, _, manifest_v1, _ = exported
    out = tmp_path / "v2.parquet"
    result = make(project, "training-set", START=START, END=END, OUT=out, VERSION=2)
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "v2.manifest.json").read_text())
    with open(REPO / "seeds" / "feature_versions.csv") as handle:
        names = next(r for r in csv.DictReader(handle) if r["feature_version"] == "v2_37features")["feature_names"].split("|")
    assert manifest["feature_version"] == "v2_37features" and manifest["feature_names"] == names
    table = pq.read_table(out)
    assert set(table.column("feature_version").to_pylist()) == {"v2_37features"}
    # one column per feature; version 2's has_prop_line feature beside the examples' has_prop_line column
    assert manifest["feature_columns"] == [f"feature_{n}" if n == "has_prop_line" else n for n in names]
    assert all(column in table.column_names for column in manifest["feature_columns"])
    # the same examples as version 1 (no quality filter): version 2 holds version 1's rows
    assert manifest["row_counts"]["exported"] == manifest_v1["row_counts"]["exported"]
    v1_keys = set(zip(*pq.read_table(exported[1], columns=["player_lookup", "game_date"]).to_pydict().values()))
    assert set(zip(*table.select(["player_lookup", "game_date"]).to_pydict().values())) == v1_keys
