"""Feature health, slate coverage, the two gates and the exposures, on the demo slice.

One module-scoped project starts from a copy of the session's full build of the demo (every date);
faults are then written into it and only the models they touch are rebuilt. Expectations are computed here from the
store's own rows (numpy/pandas), never read back from the model under test.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from dbt_harness import PREDICTIONS, REPO, DbtProject, build_models, output_of

STORE = f"{PREDICTIONS}.ml_feature_store_v2"
HEALTH = f"{PREDICTIONS}.feature_health"
COVERAGE = f"{PREDICTIONS}.slate_coverage"
V1 = "v1_baseline_25"  # the version these tests judge (version 2's features 0-24 share its verdicts)
CONSTANT_DATE = "2021-11-30"
WEEK = ("2021-11-22", "2021-11-28")


@pytest.fixture(scope="module")
def built(tmp_path_factory, full_build):
    """A copy of the session's full build of the demo (every date)."""
    project = DbtProject(tmp_path_factory.mktemp("feature_health"), full_build.db)
    baseline = health(project)
    return project, baseline


def health(project) -> pd.DataFrame:
    columns = ["game_date", "feature_name", "status", "cause", "psi", "default_share", "reference_default_share",
               "default_share_change", "p10_value", "p50_value", "p90_value", "players", "psi_bins"]
    rows = project.query(f"select {', '.join(columns)} from {HEALTH} where feature_version = ? order by game_date, feature_name", [V1])
    frame = pd.DataFrame(rows, columns=columns)
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    return frame


def store_values(project, feature) -> pd.DataFrame:
    """(game_date, value, source, team) of one feature over every computed store row; team is the
    player's team side of the game (its opponent and home or away)."""
    rows = project.query(
        f"select game_date, features[list_position(feature_names, ?)], feature_sources[list_position(feature_names, ?)],"
        f" opponent_team_abbr || is_home::varchar from {STORE} where not early_season_flag", [feature, feature])
    frame = pd.DataFrame(rows, columns=["game_date", "value", "source", "team"])
    frame["game_date"] = pd.to_datetime(frame["game_date"])
    return frame


def reference_dates(values: pd.DataFrame, day: str, game_days=28, lookback=60) -> list:
    """The previous `game_days` game days of the store before `day`, none more than `lookback` days before it."""
    day = pd.Timestamp(day)
    days = sorted(d for d in values["game_date"].unique() if d < day)[-game_days:]
    return [d for d in days if d >= day - pd.Timedelta(days=lookback)]


def current_sample(values: pd.DataFrame, day: str, reference_days: list, pool_days=3, min_sample=100) -> np.ndarray:
    """The values of `day`, pooled with the game days just before it while fewer than `min_sample`
    observations are taken (at most `pool_days` days): players, or team sides for a feature with one
    value per team side on every reference day (docs/feature_health.md, pooling rule)."""
    reference = values[values["game_date"].isin(reference_days)]
    team_level = (reference.groupby(["game_date", "team"])["value"].nunique() == 1).all()
    days = sorted(d for d in values["game_date"].unique() if d <= pd.Timestamp(day))[::-1][:pool_days]
    taken, observations = [], 0
    for each in days:
        if taken and observations >= min_sample:
            break
        rows = values[values["game_date"] == each]
        observations += rows["team"].nunique() if team_level else len(rows)
        taken.append(each)
    return values[values["game_date"].isin(taken)]["value"].to_numpy()


def psi_by_hand(current: np.ndarray, reference: np.ndarray, floor=0.0001) -> tuple[float, int]:
    """PSI with bins at the reference's lower deciles (ties merged), shares floored; a discrete
    reference (at most 10 values) has a bin per value and one below, between and above them."""
    distinct = np.unique(reference)
    if len(distinct) <= 10:  # bin 2k holds values below distinct[k], bin 2k+1 the value itself
        def bin_of(x):
            position = np.searchsorted(distinct, x, side="left")
            exact = (position < len(distinct)) & (distinct[np.minimum(position, len(distinct) - 1)] == x)
            return 2 * position + exact
        bins = 2 * len(distinct) + 1
        p = np.bincount(bin_of(current), minlength=bins) / len(current)
        q = np.bincount(bin_of(reference), minlength=bins) / len(reference)
        p, q = np.maximum(p, floor), np.maximum(q, floor)
        return float(np.sum((p - q) * np.log(p / q))), bins
    edges = np.unique(np.quantile(reference, np.arange(1, 10) / 10, method="inverted_cdf"))
    bins = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, current, side="left"), minlength=bins) / len(current)
    q = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=bins) / len(reference)
    p, q = np.maximum(p, floor), np.maximum(q, floor)
    return float(np.sum((p - q) * np.log(p / q))), bins


def row(frame, day, feature):
    match = frame[(frame["game_date"] == pd.Timestamp(day)) & (frame["feature_name"] == feature)]
    assert len(match) == 1, (day, feature)
    return match.iloc[0]


@pytest.mark.parametrize("feature", ["points_avg_last_10", "pct_three", "team_pace", "injury_risk"])
def test_psi_and_quantiles_equal_an_independent_computation(built, feature):
    project, baseline = built
    values = store_values(project, feature)
    day = "2021-11-29"
    reference_days = reference_dates(values, day)
    reference = values[values["game_date"].isin(reference_days)]["value"].to_numpy()
    current = values[values["game_date"] == pd.Timestamp(day)]["value"].to_numpy()
    assert len(reference) >= 200
    expected_psi, expected_bins = psi_by_hand(current_sample(values, day, reference_days), reference)
    got = row(baseline, day, feature)
    assert got["psi"] == pytest.approx(expected_psi, rel=1e-9, abs=1e-12)
    assert got["psi_bins"] == expected_bins
    for name, share in (("p10_value", 0.1), ("p50_value", 0.5), ("p90_value", 0.9)):
        assert got[name] == pytest.approx(np.quantile(current, share, method="inverted_cdf"))


def test_before_the_faults_neither_cause_is_present(built):
    _, baseline = built
    week = baseline["game_date"].between(*WEEK) & baseline["feature_name"].eq("fatigue_score")
    constant = baseline["game_date"].eq(pd.Timestamp(CONSTANT_DATE)) & baseline["feature_name"].eq("pct_free_throw")
    assert week.sum() >= 5 and constant.sum() == 1
    assert not baseline[week]["cause"].fillna("").str.contains("default_share_jump").any()
    assert not baseline[constant]["cause"].fillna("").str.contains("constant_feature").any()


@pytest.mark.check
def test_a_feature_forced_to_a_constant_is_an_alert_naming_the_cause(built):
    project, baseline = built
    # The store is corrupted for one date: every player's pct_free_throw becomes 0.2.
    project.execute(
        f"update {STORE} set features = list_transform(generate_series(1, 25), lambda i: case"
        f" when i = list_position(feature_names, 'pct_free_throw') then 0.2 else features[i] end)"
        f" where game_date = '{CONSTANT_DATE}' and not early_season_flag")
    players = project.query(f"select count(*) from {STORE} where game_date = '{CONSTANT_DATE}' and not early_season_flag")[0][0]
    assert players >= 20
    result = build_models(project, "--select", "feature_health", "--vars", f"{{date: {CONSTANT_DATE}}}")
    after = health(project)
    got = row(after, CONSTANT_DATE, "pct_free_throw")
    assert got["status"] == "alert"
    assert got["cause"].split(", ")[0] == "constant_feature"
    assert got["default_share"] == 0  # a constant, not a default: the values still come from their tier
    # every other feature of the date keeps its status; other dates are not rewritten
    others = after[(after["game_date"] == pd.Timestamp(CONSTANT_DATE)) & (after["feature_name"] != "pct_free_throw")]
    before = baseline.set_index(["game_date", "feature_name"]).loc[others.set_index(["game_date", "feature_name"]).index]
    assert others["status"].tolist() == before["status"].tolist()
    log = output_of(result)
    assert f"feature health alert (warns): {CONSTANT_DATE} pct_free_throw ({V1}): constant_feature" in log


def schedule_disagreements(project, day) -> tuple[int, int]:
    """(rows, rows whose back_to_back disagrees with their rest days) of one date, by the rule
    itself: a team on 0 days of rest plays a back-to-back."""
    return project.query(
        f"select count(*), count(*) filter (where features[list_position(feature_names, 'back_to_back')]"
        f" <> case when days_rest = 0 then 1 else 0 end) from {STORE} where game_date = ? and not early_season_flag", [day])[0]


def test_a_back_to_back_that_disagrees_with_the_rest_days_is_an_alert(built):
    project, baseline = built
    # the clean store: back_to_back follows the rest days on every row, and health judges it so
    clean = project.query(f"select game_date, schedule_mismatches from {HEALTH} where feature_name = 'back_to_back'")
    assert all(count in (None, 0) for _, count in clean)
    # the last judged date (before the other faults' dates) with a team on a back-to-back
    judged = sorted(day for day, count in clean if count == 0 and str(day) < WEEK[0])
    with_b2b = {day for (day,) in project.query(f"select distinct game_date from {STORE} where days_rest = 0 and not early_season_flag")}
    day = next(day for day in reversed(judged) if day in with_b2b)
    rows, wrong = schedule_disagreements(project, day)
    assert rows >= 20 and wrong == 0
    # One team side on a back-to-back is written as rested: its players' back_to_back becomes 0.
    side = project.query(
        f"select opponent_team_abbr, is_home from {STORE} where game_date = ? and days_rest = 0 and not early_season_flag"
        f" order by opponent_team_abbr, is_home limit 1", [day])
    project.execute(
        f"update {STORE} set features = list_transform(generate_series(1, 25), lambda i: case"
        f" when i = list_position(feature_names, 'back_to_back') then 0 else features[i] end)"
        f" where game_date = ? and opponent_team_abbr = ? and is_home = ? and not early_season_flag", [day, *side[0]])
    _, wrong = schedule_disagreements(project, day)
    assert 5 <= wrong < rows / 2  # one team side of the slate
    build_models(project, "--select", "feature_health", "--vars", f"{{date: {day}}}")
    got = project.query(f"select status, cause, schedule_mismatches from {HEALTH} where game_date = ? and feature_name = 'back_to_back'",
                        [day])[0]
    assert got == ("alert", "schedule_mismatch", wrong)


def test_a_phase4_source_gone_for_a_week_is_an_alert_with_a_default_jump(built):
    project, baseline = built
    # The composite factors (the only tier of fatigue_score) are missing for a week.
    project.execute(f"delete from dev_nba_precompute.player_composite_factors where game_date between '{WEEK[0]}' and '{WEEK[1]}'")
    build_models(project, "--select", "int_ml_feature_store__inputs+",
                 "--vars", f"{{start_date: {WEEK[0]}, end_date: {WEEK[1]}, completeness_severity: warn}}")
    after = health(project)
    values = store_values(project, "fatigue_score")
    week_days = sorted(d for d in values["game_date"].unique() if pd.Timestamp(WEEK[0]) <= d <= pd.Timestamp(WEEK[1]))
    assert len(week_days) >= 5
    for day in week_days:
        today = values[values["game_date"] == day]
        assert (today["source"] == "default").all()  # the store fell back on every row
        reference = values[values["game_date"].isin(reference_dates(values, day))]
        expected_change = 1.0 - (reference["source"] == "default").mean()
        got = row(after, day, "fatigue_score")
        assert got["default_share"] == 1
        assert float(got["default_share_change"]) == pytest.approx(expected_change, abs=5e-5)
        assert got["status"] == "alert"
        assert got["cause"].split(", ")[0] == "default_share_jump", got["cause"]
    # the jump shrinks as defaulted days enter the reference, but stays above the alert threshold
    changes = [float(row(after, day, "fatigue_score")["default_share_change"]) for day in week_days]
    assert changes == sorted(changes, reverse=True) and changes[-1] >= 0.2
    # the four composite features default on every row: none is at gold (97 - 4 * 2.4 = 87.4 at best)
    tiers = project.query(f"select distinct quality_tier from {STORE} where game_date between '{WEEK[0]}' and '{WEEK[1]}' and not early_season_flag")
    assert ("gold",) not in tiers
    ready = project.query(f"select sum(training_ready_rows) from {COVERAGE} where game_date between '{WEEK[0]}' and '{WEEK[1]}'")[0][0]
    assert ready == 0  # a default feature on every row


def script_tags(page: str) -> list:
    """[(attributes, body)] of the page's <script> elements (an HTML parser: script bodies are not markup)."""
    from html.parser import HTMLParser

    found = []

    class Scripts(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "script":
                found.append((dict(attrs), []))

        def handle_data(self, data):
            if found and self.lasttag == "script":
                found[-1][1].append(data)

    Scripts().feed(page)
    return [(attrs, "".join(body)) for attrs, body in found]


def test_the_report_holds_every_plot_and_the_alerts_offline(built, tmp_path):
    project, _ = built
    out = tmp_path / "feature_health.html"
    result = subprocess.run([sys.executable, "scripts/feature_health_report.py", "--db", str(project.db),
                             "--start", "2021-11-01", "--end", "2021-12-01", "--out", str(out)],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    # one plotly div per figure, each with its data, and the library inline (no network needed)
    for key in ("tier-mix", "default-share", "psi", "distributions"):
        assert page.count(f'id="plot-{key}"') == 1, key
    assert page.count('class="plotly-graph-div"') == 4
    scripts = script_tags(page)
    assert scripts and all("src" not in attrs for attrs, _ in scripts)  # nothing is fetched
    assert any("plotly.js v" in body[:2000] and len(body) > 3_000_000 for _, body in scripts)  # the library, inline
    # the thresholds are drawn; the faults of the tests above are in the alert table
    assert "warn 0.1" in page and "alert 0.25" in page
    assert "<td>2021-11-30</td><td>pct_free_throw</td><td>constant_feature" in page
    assert "<td>2021-11-22</td><td>fatigue_score</td><td>default_share_jump" in page
    alerts = project.query(f"select count(*) from {HEALTH} where status = 'alert' and feature_version = ? "
                           "and game_date between '2021-11-01' and '2021-12-01'", [V1])[0][0]
    assert f"feature set {V1}" in page  # the page names the version it shows (the served one by default)
    assert page.count("<tr><td>20") == alerts


def test_slate_coverage_counts_by_hand(built):
    project, _ = built
    day = "2021-11-29"
    slate = project.query("select count(distinct player_lookup) from nba_analytics.upcoming_player_game_context where game_date = ?", [day])[0][0]
    store = project.query(
        f"select quality_tier, is_training_ready, feature_sources from {STORE} where game_date = ?", [day])
    got = project.query(
        f"select slate_players, rows_written, gold_rows, silver_rows, training_ready_rows, default_rows, phase3_or_default_rows,"
        f" gold_silver_share from {COVERAGE} where game_date = ? and feature_version = ?", [day, V1])[0]
    gold = sum(r[0] == "gold" for r in store)
    silver = sum(r[0] == "silver" for r in store)
    fallback = [("default" in r[2]) or r[2].count("phase3") > 3 for r in store]
    assert got[:7] == (slate, len(store), gold, silver, sum(bool(r[1]) for r in store),
                       sum("default" in r[2] for r in store), sum(fallback))
    assert float(got[7]) == pytest.approx((gold + silver) / slate, abs=5e-5)


def dbt_ls(project, selector):
    result = project.dbt("ls", "--select", selector, "--resource-type", "model", "--output", "name", "-q")
    return {line.strip() for line in result.stdout.splitlines() if line.strip() and " " not in line.strip()}  # names, not log lines


def test_exposures_build_exactly_what_each_consumer_reads(project):
    # each exposure pins one version of the store, through its contracted public view (docs/feature_versions.md)
    v1_and_upstream, v2_and_upstream = dbt_ls(project, "+ml_feature_store_v2.v1"), dbt_ls(project, "+ml_feature_store_v2.v2")
    assert "player_daily_cache" in v1_and_upstream and "feature_health" not in v2_and_upstream
    # the gates the prediction service waits for (feature_health, slate_coverage) judge every version,
    # so they read version 2 (and version 1 through it) as well
    judged = {"int_ml_feature_store_v2__versions", "feature_health"}
    assert dbt_ls(project, "+exposure:prediction_service") == v1_and_upstream | v2_and_upstream | judged | {
        "ml_feature_store_v2_public.v1", "slate_coverage"}
    assert dbt_ls(project, "+exposure:training_job") == v2_and_upstream | judged | {"ml_feature_store_v2_public.v2"}


def test_the_readiness_gate_stops_the_daily_run_naming_the_date_and_share(project):
    day = "2021-11-30"
    # A slate full of call-ups: every player of the date gets a twin with no history at all, whose
    # team the feed has not filled in yet (NULL team_abbr: no team pace or rating either).
    project.execute(
        "insert into nba_analytics.upcoming_player_game_context select * replace ("
        " player_lookup || 'callup' as player_lookup, universal_player_id || '_callup' as universal_player_id,"
        " null as team_abbr)"
        f" from nba_analytics.upcoming_player_game_context where game_date = '{day}'")
    # Freshness is not what this test is about: thresholds wide enough for the demo's load times.
    wide = "freshness_warn_hours: 1000000, freshness_error_hours: 1000000"
    result = subprocess.run([sys.executable, "scripts/daily.py", "--date", day, "--extra-vars", wide],
                            cwd=REPO, env=project.env, capture_output=True, text=True)
    assert result.returncode != 0
    slate = project.query(
        f"select count(distinct player_lookup) from nba_analytics.upcoming_player_game_context where game_date = '{day}'")[0][0]
    good = project.query(f"select count(*) from {STORE} where game_date = '{day}' and quality_tier in ('gold', 'silver')")[0][0]
    callups = project.query(f"select distinct quality_tier from {STORE} where game_date = '{day}' and player_lookup like '%callup'")
    # 9 defaults (points 0-3, zones 18-20, team 22-23), 4 phase3 (4, 15-17), 6 phase4 (composite,
    # opponent), 6 calculated: (360 + 300 + 600 + 600) / 25 = 74.4 -> bronze
    assert callups == [("bronze",)]
    expected = f"readiness gate failed: on {day} ({V1}) only {100 * good / slate:.1f}% of the slate is gold or silver ({good} of {slate} players)"
    assert expected in output_of(result)
    assert "the gate needs 60%" in output_of(result)
