"""Baseline evaluation of the training examples of a date window (make evaluate).

    make evaluate START=2021-11-01 END=2021-11-30 [MIN_QUALITY=85] [OUT=page.html]
    .venv/bin/python scripts/evaluate.py --start ... --end ... [--out ...] [--db ...]

Takes the examples `make training-set` would export for the window (same filters, same time split)
and measures, against actual_points:
  - the mean absolute error (MAE) of four predictors: the prop line itself (rows with a line),
    points_avg_last_10, points_avg_season, and a least-squares fit of actual_points on the features
    (numpy lstsq with an intercept) trained on the train split;
  - the over/under hit rate of "last-10 average vs line": predict over when points_avg_last_10 is
    above the line, under when below (ties and pushes are not counted).
Every figure is computed on the test split (where the fit is out of sample), overall and by
quality_tier and by data_source, next to the mean of actual_points (errors grow with the scale of
a group: bench players score less and miss by less); the three baselines that need no training are also given over
every row of the window. Prints the tables, writes a self-contained HTML page (plotly, JavaScript
embedded: opens offline) and the figures as JSON beside it.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import training_set  # noqa: E402  (the export's reading, filters and split)

GROUPINGS = ("overall", "quality_tier", "data_source")
COLUMNS = {  # figure -> heading
    "rows": "rows",
    "rows_with_line": "with line",
    "mean_actual_points": "mean points",
    "mae_line": "MAE line",
    "mae_points_avg_last_10": "MAE last-10",
    "mae_points_avg_season": "MAE season",
    "mae_least_squares": "MAE fit",
    "mae_points_avg_last_10_line_rows": "MAE last-10 (line rows)",
    "mae_least_squares_line_rows": "MAE fit (line rows)",
    "hit_rate_last_10_vs_line": "hit rate last-10 vs line",
    "hit_rate_bets": "bets",
}


def fit_least_squares(train: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Coefficients [intercept, one per feature] minimising the squared error on the train rows."""
    if len(train) <= len(names):
        raise training_set.ExportError(f"the train split has {len(train)} rows, fewer than the {len(names) + 1} "
                                       "coefficients of the fit: widen the window")
    design = np.column_stack([np.ones(len(train)), train[names].to_numpy(dtype="float64")])
    coefficients, *_ = np.linalg.lstsq(design, train["actual_points"].to_numpy(dtype="float64"), rcond=None)
    return coefficients


def predict(frame: pd.DataFrame, names: list[str], coefficients: np.ndarray) -> np.ndarray:
    return coefficients[0] + frame[names].to_numpy(dtype="float64") @ coefficients[1:]


def mae(predicted, actual) -> float | None:
    predicted, actual = np.asarray(predicted, dtype="float64"), np.asarray(actual, dtype="float64")
    return float(np.mean(np.abs(predicted - actual))) if len(actual) else None


def group_figures(rows: pd.DataFrame) -> dict:
    """The figures of one group of examples (columns actual_points, current_points_line, over_line,
    push, points_avg_last_10, points_avg_season and, on the test split, fit)."""
    actual = rows["actual_points"]
    line_rows = rows[rows["current_points_line"].notna()]
    figures = {
        "rows": len(rows),
        "rows_with_line": len(line_rows),
        "mean_actual_points": float(actual.mean()) if len(rows) else None,
        "mae_line": mae(line_rows["current_points_line"], line_rows["actual_points"]),
        "mae_points_avg_last_10": mae(rows["points_avg_last_10"], actual),
        "mae_points_avg_season": mae(rows["points_avg_season"], actual),
        "mae_least_squares": mae(rows["fit"], actual) if "fit" in rows else None,
        "mae_points_avg_last_10_line_rows": mae(line_rows["points_avg_last_10"], line_rows["actual_points"]),
        "mae_least_squares_line_rows": mae(line_rows["fit"], line_rows["actual_points"]) if "fit" in rows else None,
    }
    bets = line_rows[(line_rows["points_avg_last_10"] != line_rows["current_points_line"]) & ~line_rows["push"].astype(bool)]
    predicted_over = bets["points_avg_last_10"] > bets["current_points_line"]
    hits = int((predicted_over == bets["over_line"].astype(bool)).sum())
    figures["hit_rate_bets"] = len(bets)
    figures["hit_rate_last_10_vs_line"] = hits / len(bets) if len(bets) else None
    return figures


def breakdown(rows: pd.DataFrame) -> dict:
    """{grouping: {group: figures}} for the overall rows, by quality_tier and by data_source."""
    result = {"overall": {"all": group_figures(rows)}}
    for column in GROUPINGS[1:]:
        result[column] = {str(value): group_figures(part) for value, part in rows.groupby(column, sort=True)}
    return result


def evaluate(args) -> dict:
    started = time.perf_counter()
    table, facts = training_set.load(args)
    names = facts["feature_names"]
    frame = table.to_pandas()
    frame["current_points_line"] = frame["current_points_line"].astype("float64")
    train, test = frame[frame["split"] == "train"], frame[frame["split"] == "test"].copy()
    if test.empty:
        raise training_set.ExportError(f"window {args.start} to {args.end} has {len(facts['dates'])} dates of examples: "
                                       "a test split needs at least 3")
    coefficients = fit_least_squares(train, names)
    test["fit"] = predict(test, names, coefficients)
    return {
        "window": {"start": args.start, "end": args.end},
        "filters": {"min_quality": args.min_quality},
        "row_counts": facts["row_counts"],
        "feature_version": facts["feature_version"],
        "split": {name: {"dates": bounds, "rows": int((frame["split"] == name).sum())}
                  for name, bounds in facts["split"].items()},
        "fit": {"train_rows": len(train), "coefficients": dict(zip(["intercept"] + names, map(float, coefficients)))},
        "test": breakdown(test),
        "all_rows": breakdown(frame),
        "seconds": round(time.perf_counter() - started, 2),
    }


# ---------------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------------


def cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def table_rows(scope: dict, figures: list[str]) -> list[list[str]]:
    rows = []
    for grouping in GROUPINGS:
        for group, values in scope[grouping].items():
            rows.append([grouping, group] + [cell(values[name]) for name in figures])
    return rows


def text_table(scope: dict, figures: list[str]) -> str:
    header = ["by", "group"] + [COLUMNS[name] for name in figures]
    rows = [header] + table_rows(scope, figures)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(w) if i < 2 else text.rjust(w) for i, (text, w) in enumerate(zip(row, widths)))
                     for row in rows)


TEST_FIGURES = list(COLUMNS)
ALL_ROW_FIGURES = ["rows", "rows_with_line", "mean_actual_points", "mae_line", "mae_points_avg_last_10", "mae_points_avg_season",
                   "hit_rate_last_10_vs_line", "hit_rate_bets"]


def html_table(scope: dict, figures: list[str]) -> str:
    header = "".join(f"<th>{text}</th>" for text in ["by", "group"] + [COLUMNS[name] for name in figures])
    body = "".join("<tr>" + "".join(f"<td>{text}</td>" for text in row) + "</tr>" for row in table_rows(scope, figures))
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def charts(result: dict) -> list:
    import plotly.graph_objects as go

    predictors = {"mae_line": "line", "mae_points_avg_last_10": "last-10 average",
                  "mae_points_avg_season": "season average", "mae_least_squares": "least-squares fit"}
    figures = []
    for scope, scope_label in (("test", "test split"), ("all_rows", "every row of the window")):
        for grouping in GROUPINGS[1:]:
            groups = result[scope][grouping]
            shown = {key: label for key, label in predictors.items()
                     if any(groups[g][key] is not None for g in groups)}  # no fit outside the test split
            figure = go.Figure([go.Bar(name=label, x=list(groups), y=[groups[g][key] for g in groups])
                                for key, label in shown.items()])
            figure.update_layout(title=f"MAE against actual_points by {grouping} ({scope_label})", barmode="group",
                                 yaxis_title="mean absolute error (points)", height=420)
            figures.append(figure)
            figure = go.Figure([go.Bar(x=list(groups), y=[groups[g]["hit_rate_last_10_vs_line"] for g in groups],
                                       text=[f"{groups[g]['hit_rate_bets']} bets" for g in groups])])
            figure.update_layout(title=f"Hit rate of 'last-10 average vs line' by {grouping} ({scope_label})",
                                 yaxis_title="share of over/under calls that hit", yaxis_range=[0, 1], height=380)
            figures.append(figure)
    return figures


def html_page(result: dict) -> str:
    window = result["window"]
    parts = [figure.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, figure in enumerate(charts(result))]
    split = ", ".join(f"{name} {s['rows']:,} rows {s['dates']}" for name, s in result["split"].items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Baseline evaluation {window['start']} to {window['end']}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(-n+2){{text-align:left}}</style></head>
<body><h1>Baseline evaluation of the training examples, {window['start']} to {window['end']}</h1>
<p>Feature version {result['feature_version']}; rows {result['row_counts']}; split: {split}.</p>
<h2>Test split</h2>{html_table(result['test'], TEST_FIGURES)}
<h2>Every row of the window (no training needed)</h2>{html_table(result['all_rows'], ALL_ROW_FIGURES)}
{''.join(parts)}
</body></html>
"""


def main(argv=None) -> int:
    parser = training_set.window_parser(__doc__)
    parser.add_argument("--out", default=None,
                        help="HTML page to write (default target/evaluation/evaluation_<start>_<end>.html; JSON beside it)")
    args = parser.parse_args(argv)
    training_set.check_window(parser, args)
    try:
        result = evaluate(args)
    except training_set.ExportError as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 2
    out = Path(args.out or f"target/evaluation/evaluation_{args.start}_{args.end}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page(result))
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"evaluate {args.start} to {args.end}: {result['row_counts']['exported']:,} examples, split "
          + ", ".join(f"{name} {s['rows']:,}" for name, s in result["split"].items()))
    print("\nTest split (the fit is trained on the train split):")
    print(text_table(result["test"], TEST_FIGURES))
    print("\nEvery row of the window:")
    print(text_table(result["all_rows"], ALL_ROW_FIGURES))
    print(f"\n{out}\n{out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
