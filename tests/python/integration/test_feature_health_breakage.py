"""Feature health catches a broken feature (spec 9.2): every feature, shifted by one reference
standard deviation or frozen to one value (labelled `default` or still labelled as computed), is an
alert within its first 3 game days; a clean store alerts on at most 1% of (date, feature) rows.

One store is built (a slice of 2021-22 until 2022-01-31: its first onsets have 28 game days of
reference); each kind of breakage is written into a copy of it by SQL, all 25 features at once (a
feature's health reads that feature's values only), and feature_health is rebuilt once per kind.
The breakage and the expectations are derived from the store's rows here, never from the model.

The same code measures four generated seasons for docs/feature_health.md:
    .venv/bin/python tests/python/integration/test_feature_health_breakage.py target/full.duckdb
(the database of `make data SEASONS=4 UNTIL=` built with `dbt build --select +feature_health`).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dbt_harness import PREDICTIONS, DbtProject, build_models, generate_demo, output_of  # noqa: E402

STORE = f"{PREDICTIONS}.ml_feature_store_v2"
HEALTH = f"{PREDICTIONS}.feature_health"
KINDS = ("shift", "frozen_default", "frozen_computed")
BROKEN_DAYS = 3  # an alert is due within the first 3 game days of a breakage
REFERENCE_DAYS = 28  # an onset has a full reference (var feature_health_reference_game_days)
UNTIL = "2022-01-31"
# Breakages of this slice that health does not catch within 3 game days (docs/feature_health.md,
# "What health catches"): the shift of fatigue_score from 2022-01-02, whose daily mean moves this
# much by itself within the same schedule contexts on those days, and minutes_change frozen at 0
# from 2021-12-01, when 99.7% of the reference is 0 (players have played 10 games or fewer) and the
# freeze changes 17 of 630 values. Listed so that any other miss fails.
KNOWN_GAPS = {
    "shift": {"fatigue_score"},
    "frozen_default": set(),
    "frozen_computed": {"minutes_change"},
}


def onsets(project) -> list[tuple]:
    """[(onset, [broken dates])]: dates whose clean health row has a full reference and whose next
    2 game days too, each onset at least 28 + 3 game days after the previous one (its reference is
    then clean)."""
    days = project.query(
        f"select game_date, max(reference_game_days) from {HEALTH} group by game_date order by game_date")
    chosen, last = [], None
    for index, (day, reference_days) in enumerate(days):
        broken = days[index:index + BROKEN_DAYS]
        if (len(broken) == BROKEN_DAYS and all(r == REFERENCE_DAYS for _, r in broken)
                and (last is None or index >= last + REFERENCE_DAYS + BROKEN_DAYS)):
            chosen.append((day, [d for d, _ in broken]))
            last = index
    return chosen


def breakage(project, chosen) -> dict:
    """{(onset, feature_index): (reference sd, frozen value)} from the store's clean rows: the sd of
    the feature over the onset's reference window, and the value it is frozen to (the reference's
    lower median; when every broken row already holds it, freezing there changes nothing, so 1 above
    it: `playoff_game`)."""
    result = {}
    for onset, broken in chosen:
        start, end = project.query(
            f"select min(reference_start_date), max(reference_end_date) from {HEALTH} where game_date = ?", [onset])[0]
        rows = project.query(
            f"""
            with reference as (
                select unnest(range(25)) as feature_index, unnest(features) as feature_value
                from {STORE} where game_date between ? and ? and not early_season_flag
            ),
            broken as (
                select unnest(range(25)) as feature_index, unnest(features) as feature_value
                from {STORE} where game_date in ({', '.join('?' for _ in broken)}) and not early_season_flag
            ),
            stats as (
                select feature_index, stddev_samp(feature_value) as sd,
                       quantile_disc(feature_value, 0.5) as median
                from reference where not isnan(feature_value) group by feature_index
            )
            select stats.feature_index, stats.sd, stats.median,
                   bool_and(broken.feature_value = stats.median) as already_frozen
            from stats inner join broken using (feature_index)
            group by stats.feature_index, stats.sd, stats.median
            """, [start, end, *broken])
        for index, sd, median, already in rows:
            result[(onset, index)] = (sd, median + 1 if already else median)
    return result


def inject(project, kind, chosen, params) -> None:
    """Writes one kind of breakage of every feature into the store on the broken days of each onset."""
    with project_connection(project) as con:
        for onset, broken in chosen:
            shift = [params[(onset, i)][0] for i in range(25)]
            frozen = [params[(onset, i)][1] for i in range(25)]
            dates = ", ".join(f"date '{d}'" for d in broken)
            if kind == "shift":
                assignment = "features = list_transform(range(1, 26), lambda i: features[i] + (?::double[])[i])"
                values = [shift]
            elif kind == "frozen_default":
                assignment = "features = ?::double[], feature_sources = list_transform(feature_sources, lambda s: 'default')"
                values = [frozen]
            else:
                assignment = "features = ?::double[]"
                values = [frozen]
            con.execute(f"update {STORE} set {assignment} where game_date in ({dates}) and not early_season_flag", values)


def project_connection(project):
    import duckdb

    return duckdb.connect(str(project.db))


def health_status(project) -> dict:
    return {(d, f): (s, c) for d, f, s, c in project.query(f"select game_date, feature_name, status, cause from {HEALTH}")}


def detection(clean: dict, broken: dict, chosen, names, params, kind) -> dict:
    """{(feature, onset): game days to the first alert (1..3), None when missed, 'n/a' when the
    breakage changes nothing (a shift by a zero sd)}. An alert counts when the clean store had none
    on that (date, feature) or another cause."""
    result = {}
    for onset, days in chosen:
        for index, name in enumerate(names):
            if kind == "shift" and not params[(onset, index)][0]:
                result[(name, onset)] = "n/a"
                continue
            result[(name, onset)] = next(
                (k for k, day in enumerate(days, start=1)
                 if broken[(day, name)][0] == "alert" and broken[(day, name)] != clean[(day, name)]), None)
    return result


def feature_names(project) -> list[str]:
    return project.query(f"select feature_names from {STORE} where feature_names is not null limit 1")[0][0]


def rebuild_health(project, chosen, *extra) -> None:
    build_models(project, "--select", "feature_health", "--vars",
                 f"{{start_date: {chosen[0][0]}, end_date: {chosen[-1][1][-1]}, feature_health_severity: warn}}", *extra)


def run_all_kinds(clean_project, workdir: Path):
    """(names, chosen onsets, {kind: detection}, clean health) for every kind of breakage."""
    chosen = onsets(clean_project)
    params = breakage(clean_project, chosen)
    names = feature_names(clean_project)
    clean = health_status(clean_project)
    results = {}
    for kind in KINDS:
        broken_project = DbtProject(workdir / kind, clean_project.db)
        inject(broken_project, kind, chosen, params)
        rebuild_health(broken_project, chosen)
        results[kind] = detection(clean, health_status(broken_project), chosen, names, params, kind)
    return names, chosen, results, clean


# --------------------------------------------------------------------------------------------
# the test: one store of 2021-22 until 2022-01-31
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_store(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("breakage")
    source = generate_demo(workdir / "source.duckdb", until=UNTIL)
    project = DbtProject(workdir / "clean", source)
    build_models(project, "--select", "+feature_health", "feature_versions",
                 "--vars", "{completeness_severity: warn, feature_health_severity: warn}")
    return project, workdir


@pytest.fixture(scope="module")
def measured(clean_store):
    project, workdir = clean_store
    return run_all_kinds(project, workdir)


@pytest.mark.parametrize("kind", KINDS)
def test_every_broken_feature_alerts_within_three_game_days(measured, kind):
    names, chosen, results, _ = measured
    assert chosen, "no date of the slice has 28 game days of reference: generate a longer slice"
    assert {name for name, _ in results[kind]} == set(names)
    # only a feature without spread (playoff_game in the regular season) cannot be shifted
    judged = [key for key, days in results[kind].items() if days != "n/a"]
    assert len(judged) == (len(names) - (kind == "shift")) * len(chosen)
    late = {name for (name, _), days in results[kind].items() if days is None}
    assert late <= KNOWN_GAPS[kind], f"{kind}: no alert within {BROKEN_DAYS} game days for {sorted(late - KNOWN_GAPS[kind])}"
    caught_on_day_one = sum(days == 1 for days in results[kind].values())
    assert caught_on_day_one >= len(judged) * (0.5 if kind == "shift" else 0.8)


@pytest.mark.check
def test_a_clean_store_alerts_on_at_most_one_percent_of_rows(clean_store):
    project, _ = clean_store
    chosen = onsets(project)
    clean = health_status(project)
    judged = {key: value for key, value in clean.items() if key[0] >= chosen[0][0]}
    alerts = sum(status == "alert" for status, _ in judged.values())
    assert len(judged) >= 25 * 30
    assert alerts <= 0.01 * len(judged), f"{alerts} alerts in {len(judged)} clean rows"


# --------------------------------------------------------------------------------------------
# the measurement on four seasons (docs/feature_health.md)
# --------------------------------------------------------------------------------------------

def main(source: str) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="breakage_", dir=Path(source).resolve().parent))
    clean_project = DbtProject(workdir / "clean", Path(source), artifacts=True)
    build_models(clean_project, "--select", "feature_health", "--full-refresh", "--vars", "{feature_health_severity: warn}")
    timing = [r["execution_time"] for r in json.loads((workdir / "clean" / "target" / "run_results.json").read_text())["results"]
              if r["unique_id"] == "model.nba_precompute.feature_health"]
    names, chosen, results, clean = run_all_kinds(clean_project, workdir)
    alerts = sum(status == "alert" for status, _ in clean.values())
    print(f"feature_health full refresh: {timing[0]:.1f} s; clean alerts {alerts} of {len(clean)} rows "
          f"({100 * alerts / len(clean):.2f}%); {len(chosen)} onsets: {[str(o) for o, _ in chosen]}")
    print("| feature | " + " | ".join(KINDS) + " |")
    print("|---|" + "---|" * len(KINDS))
    for name in names:
        cells = []
        for kind in KINDS:
            days = [results[kind][(name, onset)] for onset, _ in chosen]
            if all(d == "n/a" for d in days):
                cells.append("n/a")
                continue
            days = [d for d in days if d != "n/a"]
            caught = [d for d in days if d is not None]
            cells.append(f"{max(caught) if len(caught) == len(days) else 'missed ' + str(len(days) - len(caught))}"
                         f" ({sum(d == 1 for d in caught)}/{len(days)} on day 1)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
