"""Feature health report: one self-contained HTML page (target/feature_health.html) drawn from the
models `slate_coverage`, `feature_health` and the public view of the store version it shows
(`ml_feature_store_v2_public`), with plotly's JavaScript embedded, so it opens offline.

    .venv/bin/python scripts/feature_health_report.py --db data/full.duckdb --start 2024-10-22 --end 2025-06-20 [--version 2]

One feature-set version per page (--version: 1, 2 or its id; by default the version the prediction
service reads); its name is in the title.

Sections: the quality-tier mix of the slate per date; a heatmap of the default share, feature by
date; PSI per feature over time with the warn and alert thresholds; the distribution of every
feature on the last date against its reference window; the table of alerts. Every number comes from
the models (the distributions are the stored feature values of the dates feature_health names as
the reference); nothing is recomputed here. Thresholds are the project's vars (dbt_project.yml).
"""
from __future__ import annotations

import argparse
import html
import os
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import yaml
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import training_set  # noqa: E402  (feature-set versions, as the export names them)
from output_files import UserError, open_database, replace_atomically, validate_output  # noqa: E402

# The models the page reads (all in --schema), and the public view of the version's store rows.
MODELS = ("slate_coverage", "feature_health")
STORE_VIEW = "ml_feature_store_v2_public_v{}"
TIERS = [("gold", "#d4a017"), ("silver", "#9ea7b0"), ("bronze", "#b0703c"), ("poor", "#c0392b"),
         ("unusable", "#5b2c2c"), ("placeholder", "#d9d9d9")]
STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "alert": "#c62828"}


def project_vars() -> dict:
    return yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]


def iso(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as YYYY-MM-DD") from None


def check_models(con, db: str, schema: str, version: str | None = None) -> None:
    """UserError naming the models the page reads that the database does not hold, and the build
    (with a version: that version's store view too)."""
    present = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()}
    wanted = MODELS + ((STORE_VIEW.format(training_set.model_version(version)),) if version else ())
    missing = [name for name in wanted if name not in present]
    if missing:
        raise UserError(f"{db} has no {', '.join(f'{schema}.{name}' for name in missing)}: build "
                        f"{'them' if len(missing) > 1 else 'it'} first: dbt build --select "
                        + " ".join(f"+{name}" for name in missing) + " (or make backfill START=... END=...)")


def load(con, schema: str, start: str | None, end: str | None, version: str) -> dict:
    """The rows the page draws for one feature-set version, read from the models (nothing recomputed)."""
    if start is None or end is None:
        first, last = con.execute(f"select min(game_date), max(game_date) from {schema}.feature_health"
                                  " where feature_version = ?", [version]).fetchone()
        if first is None:
            raise UserError(f"{schema}.feature_health is empty: build it first: dbt build --select +feature_health")
        start, end = start or first.isoformat(), end or last.isoformat()
    window = [version, start, end]
    coverage = con.execute(
        f"select * exclude (data_hash, created_at, processed_at) from {schema}.slate_coverage"
        " where feature_version = ? and game_date between ? and ? order by game_date", window).df()
    health = con.execute(
        f"select * exclude (data_hash, created_at, processed_at) from {schema}.feature_health"
        " where feature_version = ? and game_date between ? and ? order by game_date, feature_index", window).df()
    if health.empty:
        raise UserError(f"{schema}.feature_health holds no row between {start} and {end}: pick dates it holds "
                        "(omit START and END for all of them) or build them: make backfill START=... END=...")
    for frame in (coverage, health):
        frame["game_date"] = pd.to_datetime(frame["game_date"]).dt.strftime("%Y-%m-%d")
    last = health["game_date"].max()
    last_rows = health[health["game_date"] == last]
    ref_start, ref_end = last_rows["reference_start_date"].min(), last_rows["reference_end_date"].max()
    ref_start, ref_end = (None, None) if pd.isna(ref_start) else (ref_start.isoformat()[:10], ref_end.isoformat()[:10])
    values = con.execute(
        f"""select game_date = ? as is_last, unnest(feature_names) as feature_name, unnest(features) as feature_value
            from {schema}.{STORE_VIEW.format(training_set.model_version(version))}
            where not early_season_flag and (game_date = ? or game_date between ? and ?)""",
        [last, last, ref_start or last, ref_end or last]).df()
    return {"version": version, "start": start, "end": end, "coverage": coverage, "health": health, "last": last,
            "reference": (ref_start, ref_end), "values": values}


def tier_mix(coverage: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for tier, colour in TIERS:
        fig.add_bar(x=coverage["game_date"], y=coverage[f"{tier}_rows"], name=tier, marker_color=colour)
    fig.add_scatter(x=coverage["game_date"], y=coverage["slate_players"], name="slate players", mode="lines",
                    line={"color": "#222", "width": 1})
    fig.update_layout(barmode="stack", title="Quality-tier mix of the slate per date (rows of ml_feature_store_v2)",
                      xaxis_title="game date", yaxis_title="rows", height=420, bargap=0)
    return fig


def default_heatmap(health: pd.DataFrame) -> go.Figure:
    grid = health.pivot(index="feature_name", columns="game_date", values="default_share").astype(float)
    order = health.drop_duplicates("feature_name").sort_values("feature_index")["feature_name"]
    grid = grid.reindex(order)
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index), zmin=0, zmax=1,
                               colorscale="Reds", colorbar={"title": "default share"},
                               hovertemplate="%{y}<br>%{x}<br>default share %{z:.1%}<extra></extra>"))
    fig.update_layout(title="Default share, feature by date", height=640, yaxis={"autorange": "reversed"})
    return fig


def with_gaps(rows: pd.DataFrame, days: int = 30) -> pd.DataFrame:
    """The rows with an empty row inserted wherever two dates are more than `days` apart, so a line
    does not bridge an off-season."""
    dates = pd.to_datetime(rows["game_date"])
    breaks = rows[dates.diff().dt.days.gt(days).to_numpy()]
    if breaks.empty:
        return rows
    gaps = pd.DataFrame({"game_date": (pd.to_datetime(breaks["game_date"]) - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")})
    return pd.concat([rows, gaps]).sort_values("game_date")


def psi_lines(health: pd.DataFrame, warn: float, alert: float, floor: float = 0.001) -> go.Figure:
    """One line per feature (PSI below `floor` drawn at the floor: the log axis has to stop somewhere).
    Features whose judged PSI crossed the alert threshold are shown; the others start hidden."""
    fig = go.Figure()
    for name, rows in health.sort_values("feature_index").groupby("feature_name", sort=False):
        judged = rows[rows["psi_judged"].astype(bool)]
        shown = bool((judged["psi"] > alert).any())
        rows = with_gaps(rows[["game_date", "psi"]])
        fig.add_scatter(x=rows["game_date"], y=rows["psi"].clip(lower=floor), name=name, mode="lines",
                        line={"width": 1}, visible=True if shown else "legendonly", connectgaps=False,
                        customdata=rows["psi"], hovertemplate=name + "<br>%{x}<br>PSI %{customdata:.4f}<extra></extra>")
    fig.add_hline(y=warn, line={"color": STATUS_COLOURS["warn"], "dash": "dash"},
                  annotation_text=f"warn {warn}", annotation_position="top left")
    fig.add_hline(y=alert, line={"color": STATUS_COLOURS["alert"], "dash": "dash"},
                  annotation_text=f"alert {alert}", annotation_position="top left")
    fig.update_layout(title="PSI per feature against its reference window (log scale; features whose judged PSI"
                      " never crossed the alert threshold start hidden: click a name to show it)",
                      yaxis_type="log", yaxis_title="PSI", height=560)
    return fig


def distributions(values: pd.DataFrame, health: pd.DataFrame, last, reference) -> go.Figure:
    order = list(health.drop_duplicates("feature_name").sort_values("feature_index")["feature_name"])
    status = health[health["game_date"] == last].set_index("feature_name")["status"]
    cols = 5
    rows = (len(order) + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{n} ({status.get(n, 'n/a')})" for n in order],
                        vertical_spacing=0.06, horizontal_spacing=0.04)
    for i, name in enumerate(order):
        feature = values[values["feature_name"] == name]
        for is_last, label, colour in ((False, "reference", "#7f8c8d"), (True, "last date", "#1f77b4")):
            part = feature[feature["is_last"] == is_last]["feature_value"]
            fig.add_histogram(x=part, histnorm="probability", name=label, marker_color=colour, opacity=0.6,
                              legendgroup=label, showlegend=(i == 0), nbinsx=30,
                              row=i // cols + 1, col=i % cols + 1)
    ref = "no reference" if pd.isna(reference[0]) else f"reference {reference[0]} to {reference[1]}"
    fig.update_layout(barmode="overlay", height=260 * rows, title=f"Distribution of each feature on {last} against its {ref}")
    fig.update_annotations(font_size=11)
    return fig


def alert_table(health: pd.DataFrame) -> str:
    alerts = health[health["status"] == "alert"].sort_values(["game_date", "feature_index"])
    if alerts.empty:
        return "<p>No alert in this window.</p>"
    body = "".join(
        f"<tr><td>{r.game_date}</td><td>{html.escape(r.feature_name)}</td><td>{html.escape(str(r.cause))}</td>"
        f"<td>{'' if pd.isna(r.psi) else f'{r.psi:.3f}'}</td><td>{float(r.default_share):.1%}</td>"
        f"<td>{'' if pd.isna(r.default_share_change) else f'{float(r.default_share_change):+.1%}'}</td>"
        f"<td>{r.players}</td></tr>"
        for r in alerts.itertuples())
    return ("<table class='alerts'><thead><tr><th>date</th><th>feature</th><th>cause</th><th>PSI</th>"
            "<th>default share</th><th>vs reference</th><th>players</th></tr></thead><tbody>" + body + "</tbody></table>")


def page(data: dict, settings: dict) -> str:
    health, coverage = data["health"], data["coverage"]
    counts = health["status"].value_counts().reindex(["ok", "warn", "alert"], fill_value=0)
    figures = [
        ("tier-mix", tier_mix(coverage)),
        ("default-share", default_heatmap(health)),
        ("psi", psi_lines(health, settings["feature_health_psi_warn"], settings["feature_health_psi_alert"])),
        ("distributions", distributions(data["values"], health, data["last"], data["reference"])),
    ]
    divs = "\n".join(f"<section id='{key}'>{fig.to_html(full_html=False, include_plotlyjs=False, div_id='plot-' + key)}</section>"
                     for key, fig in figures)
    badges = " ".join(f"<span class='badge' style='background:{STATUS_COLOURS[s]}'>{s}: {n}</span>" for s, n in counts.items())
    ready = coverage["gold_silver_share"].dropna().astype(float)
    below = int((ready < float(settings["slate_ready_min_share"])).sum())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feature health {data['version']} {data['start']} to {data['end']}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
section {{ margin-bottom: 28px; }}
.badge {{ color: white; padding: 3px 10px; border-radius: 10px; margin-right: 6px; font-weight: 600; }}
table.alerts {{ border-collapse: collapse; font-size: 13px; }}
table.alerts th, table.alerts td {{ border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: left; }}
.scroll {{ max-height: 480px; overflow-y: auto; display: inline-block; }}
</style></head>
<body>
<h1>Feature health of ml_feature_store_v2, feature set {data['version']}, {data['start']} to {data['end']}</h1>
<p>{len(coverage)} dates, {len(health)} (date, feature) rows: {badges}</p>
<p>Readiness gate: {below} of {len(ready)} dates past the early season below {float(settings['slate_ready_min_share']):.0%} of the slate at gold or silver.
PSI thresholds: warn {settings['feature_health_psi_warn']}, alert {settings['feature_health_psi_alert']}.</p>
{divs}
<section id="alerts"><h2>Alerts</h2><div class="scroll">{alert_table(health)}</div></section>
</body></html>
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb"))
    parser.add_argument("--schema", default="dev_nba_predictions")
    parser.add_argument("--start", type=iso, help="first game date (default: the first feature_health holds)")
    parser.add_argument("--end", type=iso, help="last game date (default: the last feature_health holds)")
    parser.add_argument("--version", default=None,
                        help="feature-set version: 1, 2 or its id (default: the one the prediction service reads)")
    parser.add_argument("--out", default="target/feature_health.html", help="HTML page to write, ending in .html")
    args = parser.parse_args(argv)
    try:
        out = validate_output(args.out, ".html", args.db)
        with open_database(args.db) as con:
            check_models(con, args.db, args.schema)
            version = training_set.feature_version(con, args.schema, args.version)
            check_models(con, args.db, args.schema, version)
            data = load(con, args.schema, args.start, args.end, version)
        replace_atomically({out: lambda path: path.write_text(page(data, project_vars()), encoding="utf-8")})
    except UserError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    alerts = int((data["health"]["status"] == "alert").sum())
    print(f"feature health report: {out} ({data['version']}, {data['start']} to {data['end']}, "
          f"{len(data['coverage'])} dates, {alerts} alerts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
