"""Baseline evaluation of the training examples of a date window (make evaluate).

    make evaluate START=2021-11-01 END=2021-11-30 [VERSION=1|2] [MIN_QUALITY=85] [READY_ONLY=1] [OUT=page.html]
    .venv/bin/python scripts/evaluate.py --start ... --end ... [--version ...] [--out ...] [--db ...]

Takes the examples `make training-set` would export for the window (same filters, same time split)
and measures, against actual_points, the mean absolute error (MAE) of four predictors: the prop line,
points_avg_last_10, points_avg_season, and a least-squares fit of actual_points on the features
(numpy lstsq with an intercept) trained on the train split. Like is compared with like:

  - "rows with a line": the line and the three others on the same rows (the rows that have a line);
  - "all rows": the three predictors that need no line on every row, labelled as such;
  - the hit rate of each rule "over when the predictor is above the line" (last-10, season, fit;
    ties and pushes are not bets) against the 52.4 % break-even of -110 odds.

The feature-set versions are compared on the same rows: the examples every version keeps (same
player, same date), one time split over their dates, one least-squares fit per version on its own
features over the train rows, and its MAE on the test rows (does version 2 lower the fit's error, and
by how much). The tables above use one version (VERSION; by default the one the prediction service
reads).

Figures are given on the test split (where the fit is out of sample) and over every row of the
window (no fit), overall, by quality_tier, data_source and season_year, next to the mean of
actual_points; plus the fit's calibration on the test split (mean actual points by decile of the
prediction). Prints the tables, writes a self-contained HTML page (plotly, JavaScript embedded: opens
offline) and the figures as JSON beside it, both replaced as one unit (scripts/output_files.py).
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training_set  # noqa: E402  (the export's reading, filters and split)
from output_files import UserError, replace_atomically, validate_output  # noqa: E402

GROUPINGS = ("overall", "quality_tier", "data_source", "season_year")
# predictor -> (column, label); the line is compared only on rows that have one.
PREDICTORS = {"line": ("current_points_line", "line"), "last_10": ("points_avg_last_10", "last-10 average"),
              "season": ("points_avg_season", "season average"), "fit": ("fit", "least-squares fit")}
RULES = ("last_10", "season", "fit")  # "over when the predictor is above the line"
BREAK_EVEN = 110 / 210  # hit rate that breaks even at -110 odds (52.4 %)
DECILES = 10


def fit_least_squares(train: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Coefficients [intercept, one per feature] minimising the squared error on the train rows."""
    if len(train) <= len(names):
        raise UserError(f"the train split has {len(train)} rows, fewer than the {len(names) + 1} "
                        "coefficients of the fit: widen the window")
    design = np.column_stack([np.ones(len(train)), train[names].to_numpy(dtype="float64")])
    coefficients, *_ = np.linalg.lstsq(design, train["actual_points"].to_numpy(dtype="float64"), rcond=None)
    return coefficients


def predict(frame: pd.DataFrame, names: list[str], coefficients: np.ndarray) -> np.ndarray:
    return coefficients[0] + frame[names].to_numpy(dtype="float64") @ coefficients[1:]


def mae(predicted, actual) -> float | None:
    predicted, actual = np.asarray(predicted, dtype="float64"), np.asarray(actual, dtype="float64")
    return float(np.mean(np.abs(predicted - actual))) if len(actual) else None


def mean(values) -> float | None:
    return float(np.mean(np.asarray(values, dtype="float64"))) if len(values) else None


def group_figures(rows: pd.DataFrame) -> dict:
    """The figures of one group of examples (columns actual_points, current_points_line, over_line,
    push, points_avg_last_10, points_avg_season and, on the test split, fit). `*_line_rows` figures
    are all computed on the same rows, those with a line; `*_all_rows` figures on every row."""
    line_rows = rows[rows["current_points_line"].notna()]
    figures = {"rows": len(rows), "mean_actual_points": mean(rows["actual_points"]),
               "line_rows": len(line_rows), "mean_actual_points_line_rows": mean(line_rows["actual_points"])}
    for key, (column, _) in PREDICTORS.items():
        present = column in rows
        figures[f"mae_{key}_line_rows"] = mae(line_rows[column], line_rows["actual_points"]) if present else None
        if key != "line":
            figures[f"mae_{key}_all_rows"] = mae(rows[column], rows["actual_points"]) if present else None
    for key in RULES:
        column = PREDICTORS[key][0]
        if column not in rows:
            figures[f"hit_rate_{key}"], figures[f"bets_{key}"] = None, 0
            continue
        bets = line_rows[(line_rows[column] != line_rows["current_points_line"]) & ~line_rows["push"].astype(bool)]
        hits = int(((bets[column] > bets["current_points_line"]) == bets["over_line"].astype(bool)).sum())
        figures[f"bets_{key}"] = len(bets)
        figures[f"hit_rate_{key}"] = hits / len(bets) if len(bets) else None
    return figures


def breakdown(rows: pd.DataFrame) -> dict:
    """{grouping: {group: figures}} for the overall rows and by each grouping column."""
    result = {"overall": {"all": group_figures(rows)}}
    for column in GROUPINGS[1:]:
        result[column] = {str(value): group_figures(part) for value, part in rows.groupby(column, sort=True)}
    return result


def calibration(test: pd.DataFrame) -> list[dict]:
    """Mean prediction and mean actual points of the test rows by decile of the fit's prediction
    (deciles of the rows ranked by prediction, ties in row order)."""
    ranks = test["fit"].rank(method="first").to_numpy() - 1
    decile = (ranks * DECILES // len(test)).astype(int) + 1
    return [{"decile": int(d), "rows": len(part), "mean_predicted": mean(part["fit"]),
             "mean_actual_points": mean(part["actual_points"])}
            for d, part in test.groupby(decile, sort=True)]


def compare_versions(args) -> dict:
    """Each feature-set version's least-squares fit on the same rows (the examples every version
    keeps), trained on the train dates of one split over those rows, measured on the test dates."""
    frames = {}
    for name in training_set.versions(args.db, args.schema):
        table, facts = training_set.load(argparse.Namespace(**{**vars(args), "version": name}))
        frames[name] = (table.to_pandas(), facts["feature_columns"])
    keys = None
    for frame, _ in frames.values():
        these = frame[["player_lookup", "game_date"]]
        keys = these if keys is None else keys.merge(these, on=["player_lookup", "game_date"])
    dates = sorted(str(day) for day in keys["game_date"].unique())
    split = training_set.time_split(dates)
    if not split["test"]:
        raise UserError(f"the versions share examples on {len(dates)} dates: a test split needs at least 3")
    test_first, train_last = split["test"][0], split["train"][1]
    result = {"rows": len(keys), "split": split, "versions": {}}
    for name, (frame, names) in frames.items():
        frame = frame.merge(keys, on=["player_lookup", "game_date"]).sort_values(["game_date", "player_lookup"])
        day = frame["game_date"].astype(str)
        train, test = frame[day <= train_last], frame[day >= test_first]
        fitted = predict(test, names, fit_least_squares(train, names))
        result["versions"][name] = {"features": len(names), "train_rows": len(train), "test_rows": len(test),
                                    "mae_fit_test": mae(fitted, test["actual_points"]),
                                    "mae_last_10_test": mae(test["points_avg_last_10"], test["actual_points"])}
    return result


def evaluate(args) -> dict:
    started = time.perf_counter()
    table, facts = training_set.load(args)
    names = facts["feature_columns"]
    frame = table.to_pandas()
    frame["current_points_line"] = frame["current_points_line"].astype("float64")
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"].copy()
    if test.empty:
        raise UserError(f"window {args.start} to {args.end} has {len(facts['dates'])} dates of examples: "
                        "a test split needs at least 3")
    coefficients = fit_least_squares(train, names)
    test["fit"] = predict(test, names, coefficients)
    return {
        "window": {"start": args.start, "end": args.end},
        "filters": {"min_quality": args.min_quality, "training_ready_only": bool(args.training_ready_only)},
        "row_counts": facts["row_counts"],
        "feature_version": facts["feature_version"],
        "split": {name: {"dates": bounds, "rows": int((frame["split"] == name).sum())}
                  for name, bounds in facts["split"].items()},
        "fit": {"train_rows": len(train), "coefficients": dict(zip(["intercept"] + names, map(float, coefficients)))},
        "break_even_hit_rate": BREAK_EVEN,
        "test": breakdown(test),
        "all_rows": breakdown(frame),
        "calibration": calibration(test),
        "version_comparison": compare_versions(args),
        "seconds": round(time.perf_counter() - started, 2),
    }


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------

SHORT = {"line": "line", "last_10": "last-10", "season": "season", "fit": "fit"}
COLUMNS = {  # figure -> heading
    "rows": "rows", "mean_actual_points": "mean points",
    "line_rows": "rows with a line", "mean_actual_points_line_rows": "mean points",
    "mae_line_line_rows": "MAE line", "mae_last_10_line_rows": "MAE last-10", "mae_season_line_rows": "MAE season",
    "mae_fit_line_rows": "MAE fit",
    "mae_last_10_all_rows": "MAE last-10", "mae_season_all_rows": "MAE season", "mae_fit_all_rows": "MAE fit",
    **{f"bets_{key}": f"bets {SHORT[key]}" for key in RULES},
    **{f"hit_rate_{key}": f"hit rate {SHORT[key]}" for key in RULES},
}
LINE_ROWS = ["line_rows", "mean_actual_points_line_rows", "mae_line_line_rows", "mae_last_10_line_rows",
             "mae_season_line_rows", "mae_fit_line_rows"]
ALL_ROWS = ["rows", "mean_actual_points", "mae_last_10_all_rows", "mae_season_all_rows", "mae_fit_all_rows"]
HIT_RATES = [name for key in RULES for name in (f"bets_{key}", f"hit_rate_{key}")]
NO_FIT = ("mae_fit_line_rows", "mae_fit_all_rows", "bets_fit", "hit_rate_fit")


def tables(result: dict) -> list[tuple[str, dict, list[str]]]:
    """(title, scope, figures) of every table, on the terminal and on the page."""
    def without_fit(names):
        return [name for name in names if name not in NO_FIT]
    break_even = f"{BREAK_EVEN:.1%}"
    return [
        ("Test split, rows with a line: every predictor on the same rows", result["test"], LINE_ROWS),
        (f"Test split, hit rate of 'over when the predictor is above the line' (break-even {break_even}; "
         "pushes and ties are not bets)", result["test"], HIT_RATES),
        ("Test split, all rows (with or without a line; no line to compare)", result["test"], ALL_ROWS),
        ("Every row of the window (no fit), rows with a line: every predictor on the same rows", result["all_rows"],
         without_fit(LINE_ROWS)),
        (f"Every row of the window, hit rate against the line (break-even {break_even})", result["all_rows"],
         without_fit(HIT_RATES)),
        ("Every row of the window, all rows (with or without a line)", result["all_rows"], without_fit(ALL_ROWS)),
    ]


def cell(name: str, value) -> str:
    if value is None:
        return "-"
    if name.startswith("hit_rate"):
        return f"{value:.1%}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def table_rows(scope: dict, figures: list[str]) -> list[list[str]]:
    return [[grouping, group] + [cell(name, values[name]) for name in figures]
            for grouping in GROUPINGS for group, values in scope[grouping].items()]


def text_table(scope: dict, figures: list[str]) -> str:
    header = ["by", "group"] + [COLUMNS[name] for name in figures]
    rows = [header] + table_rows(scope, figures)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(w) if i < 2 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
                     for row in rows)


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(text)}</th>" for text in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(text)}</td>" for text in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def calibration_rows(result: dict) -> list[list[str]]:
    return [[str(r["decile"]), f"{r['rows']:,}", f"{r['mean_predicted']:.2f}", f"{r['mean_actual_points']:.2f}"]
            for r in result["calibration"]]


CALIBRATION_HEADER = ["decile of the prediction", "rows", "mean prediction", "mean actual points"]
VERSIONS_HEADER = ["feature version", "features", "train rows", "test rows", "MAE fit", "MAE last-10",
                   "fit MAE against the first version"]


def version_rows(result: dict) -> list[list[str]]:
    compared = result["version_comparison"]["versions"]
    first = next(iter(compared.values()))["mae_fit_test"]
    return [[name, str(v["features"]), f"{v['train_rows']:,}", f"{v['test_rows']:,}", f"{v['mae_fit_test']:.3f}",
             f"{v['mae_last_10_test']:.3f}", f"{v['mae_fit_test'] - first:+.3f}"] for name, v in compared.items()]


def versions_title(result: dict) -> str:
    compared = result["version_comparison"]
    test = compared["split"]["test"]
    return (f"Feature-set versions on the same {compared['rows']:,} examples (one split; test {test[0]} to {test[1]}): "
            "a least-squares fit per version")


def summary(result: dict) -> list[str]:
    """The header of the page and of the terminal output, as sentences."""
    counts, filters = result["row_counts"], result["filters"]
    dropped = ", ".join(f"{reason.replace('_', ' ')} {rows:,}" for reason, rows in counts["filtered_out"].items())
    kept = [f"quality score at least {filters['min_quality']:g}" if filters["min_quality"] is not None else None,
            "training-ready rows only" if filters["training_ready_only"] else None]
    split = "; ".join(f"{name} {s['rows']:,} rows ({s['dates'][0]} to {s['dates'][1]})" if s["dates"]
                      else f"{name} no rows" for name, s in result["split"].items())
    return [
        f"Window {result['window']['start']} to {result['window']['end']}, feature version {result['feature_version']}.",
        f"{counts['exported']:,} of {counts['total']:,} examples evaluated; dropped: {dropped}."
        + (f" Filters: {', '.join(k for k in kept if k)}." if any(kept) else ""),
        f"Split by date: {split}. The fit is trained on the {result['fit']['train_rows']:,} train rows.",
        "Rows with a line compare every predictor on the same rows; all-rows figures say so in their title.",
    ]


def bar_chart(title: str, groups: dict, series: dict, yaxis: str, **layout):
    import plotly.graph_objects as go

    figure = go.Figure([go.Bar(name=label, x=list(groups), y=[groups[g][key] for g in groups])
                        for key, label in series.items()])
    figure.update_layout(title=title, barmode="group", yaxis_title=yaxis, xaxis_type="category", height=420, **layout)
    return figure


def charts(result: dict) -> list:
    import plotly.graph_objects as go

    line_rows = {f"mae_{key}_line_rows": label for key, (_, label) in PREDICTORS.items()}
    all_rows = {f"mae_{key}_all_rows": label for key, (_, label) in PREDICTORS.items() if key != "line"}
    mae_axis = "mean absolute error (points)"
    figures = [bar_chart(f"MAE by {grouping}, test split, rows with a line (every predictor on the same rows)",
                         result["test"][grouping], line_rows, mae_axis) for grouping in ("quality_tier", "data_source")]
    seasons = result["all_rows"]["season_year"]
    figures.append(bar_chart("MAE per season, every row of the window with a line (no fit outside the test split)",
                             seasons, {k: v for k, v in line_rows.items() if k not in NO_FIT}, mae_axis))
    figures.append(bar_chart("MAE by quality_tier, test split, all rows (with or without a line)",
                             result["test"]["quality_tier"], all_rows, mae_axis))
    groups = {"all": result["test"]["overall"]["all"], **result["test"]["quality_tier"]}
    hits = bar_chart("Hit rate of 'over when the predictor is above the line', test split, by quality_tier",
                     groups, {f"hit_rate_{key}": PREDICTORS[key][1] for key in RULES},
                     "share of over/under calls that hit", yaxis_range=[0, 1])
    hits.add_hline(y=BREAK_EVEN, line={"color": "#c62828", "dash": "dash"},
                   annotation_text=f"break-even {BREAK_EVEN:.1%}", annotation_position="top left")
    figures.append(hits)
    points = result["calibration"]
    low = min(min(p["mean_predicted"], p["mean_actual_points"]) for p in points)
    high = max(max(p["mean_predicted"], p["mean_actual_points"]) for p in points)
    calibrated = go.Figure([
        go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect calibration",
                   line={"color": "#999", "dash": "dash"}),
        go.Scatter(x=[p["mean_predicted"] for p in points], y=[p["mean_actual_points"] for p in points],
                   mode="lines+markers", name="least-squares fit", text=[f"decile {p['decile']}" for p in points]),
    ])
    calibrated.update_layout(title="Calibration of the fit, test split: mean actual points by decile of the prediction",
                             xaxis_title="mean prediction (points)", yaxis_title="mean actual points", height=420)
    figures.append(calibrated)
    compared = result["version_comparison"]["versions"]
    figures.append(bar_chart(versions_title(result), {name: v for name, v in compared.items()},
                             {"mae_fit_test": "least-squares fit", "mae_last_10_test": "last-10 average"}, mae_axis))
    return figures


def html_page(result: dict) -> str:
    window = result["window"]
    parts = [figure.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, figure in enumerate(charts(result))]
    sections = "".join(f"<h2>{html.escape(title)}</h2>"
                       + html_table(["by", "group"] + [COLUMNS[name] for name in figures], table_rows(scope, figures))
                       for title, scope, figures in tables(result))
    header = "".join(f"<p>{html.escape(line)}</p>" for line in summary(result))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Baseline evaluation {window['start']} to {window['end']}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(-n+2){{text-align:left}}</style></head>
<body><h1>Baseline evaluation of the training examples, {window['start']} to {window['end']}</h1>
{header}
{sections}
<h2>Calibration of the fit, test split</h2>{html_table(CALIBRATION_HEADER, calibration_rows(result))}
<h2>{html.escape(versions_title(result))}</h2>{html_table(VERSIONS_HEADER, version_rows(result))}
{''.join(parts)}
</body></html>
"""


def main(argv=None) -> int:
    parser = training_set.window_parser(__doc__)
    parser.add_argument("--out", default=None,
                        help="HTML page to write, ending in .html (default target/evaluation/evaluation_<start>_<end>.html; "
                             "JSON beside it)")
    args = parser.parse_args(argv)
    training_set.check_window(parser, args)
    try:
        out = validate_output(args.out or f"target/evaluation/evaluation_{args.start}_{args.end}.html", ".html", args.db)
        figures = validate_output(out.with_suffix(".json"), ".json", args.db, option="figures file")
        result = evaluate(args)
        replace_atomically({figures: lambda path: path.write_text(json.dumps(result, indent=2) + "\n"),
                            out: lambda path: path.write_text(html_page(result), encoding="utf-8")})
    except UserError as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 2
    print("\n".join(summary(result)))
    for title, scope, names in tables(result):
        print(f"\n{title}:")
        print(text_table(scope, names))
    print("\nCalibration of the fit, test split:")
    rows = [CALIBRATION_HEADER] + calibration_rows(result)
    widths = [max(len(row[i]) for row in rows) for i in range(len(CALIBRATION_HEADER))]
    print("\n".join("  ".join(text.rjust(w) for text, w in zip(row, widths)) for row in rows))
    print(f"\n{versions_title(result)}:")
    rows = [VERSIONS_HEADER] + version_rows(result)
    widths = [max(len(row[i]) for row in rows) for i in range(len(VERSIONS_HEADER))]
    print("\n".join("  ".join(text.rjust(w) for text, w in zip(row, widths)) for row in rows))
    print(f"\n{out}\n{figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
