"""The guard does not trust what it cannot verify (docs/guards.md, build stamps and freshness).

A selection without `+` (the design card's `dbt build --select ml_feature_store_v2 --vars ...`) reads
stored int_* tables and output tables; it may only do so when their build stamps describe the rows
they hold now, for a window that covers the run, built from the sources' content as it is now.
Forged, stale, damaged or missing stamps stop it before anything is written, naming the `+` command;
the `+` command repairs a damaged stamp table. Freshness as of a past date judges a row by its first
delivery (created_at), so a re-delivery of rows that were on time does not stop a re-run, and a late
first delivery still stops the nightly run.
"""
from __future__ import annotations

import pytest

from dbt_harness import OUTPUT_TABLES, DbtProject, build_models, output_of, rows_written

STAMPS = "dev_nba_staging.build_stamps"
FEATURES = OUTPUT_TABLES["ml_feature_store_v2"][0] + ".ml_feature_store_v2"
PGS = "nba_analytics.player_game_summary"
SOURCES = ["nba_raw.nbac_schedule", PGS, "nba_analytics.team_offense_game_summary",
           "nba_analytics.team_defense_game_summary", "nba_analytics.upcoming_player_game_context",
           "nba_analytics.upcoming_team_game_context"]
# conftest's range_build holds 2021-11-26..11-30 in every output; the int_* tables are then rebuilt
# for 11-26..11-29 only, so the stored inputs hold one date less than the outputs.
OUTPUT_RANGE = ("2021-11-26", "2021-11-30")
INPUT_RANGE_VARS = "{start_date: 2021-11-26, end_date: 2021-11-29}"


def rows_by_date(project: DbtProject) -> dict:
    """{game_date: (rows, sum of the rows' hashes' first 8 hex digits)} of the feature store."""
    return {str(d): (n, h) for d, n, h in project.query(
        f"select game_date, count(*), sum(('0x' || substr(data_hash, 1, 8))::bigint) from {FEATURES} group by 1")}


@pytest.fixture(scope="module")
def inputs_for_fewer_dates(tmp_path_factory, range_build):
    """Outputs of 11-26..11-30; the last `+` build (every int_* table) was for 11-26..11-29."""
    project = DbtProject(tmp_path_factory.mktemp("guard_state"), range_build.db)
    build_models(project, "--select", "+ml_feature_store_v2", "--vars", INPUT_RANGE_VARS)
    return project.db


@pytest.fixture
def built(tmp_path, inputs_for_fewer_dates):
    project = DbtProject(tmp_path, inputs_for_fewer_dates)
    return project, rows_by_date(project)


def design_card(project: DbtProject, window_vars: str):
    return project.build("--select", "ml_feature_store_v2", "--vars", window_vars, check=False)


@pytest.mark.parametrize("forged_window, window_vars, plus_vars", [
    # Every stamp copied with its window widened to the outputs' range: the old guard let the range
    # command compute 11-26..11-29 from the stored inputs and delete the 184 rows of 11-30 (exit 0).
    (OUTPUT_RANGE, "{start_date: 2021-11-26, end_date: 2021-11-30}", "{start_date: 2021-11-26, end_date: 2021-11-30}"),
    # A one-date forgery: the old guard let it through to the merge, which advised allow_mass_delete.
    (("2021-11-30", "2021-11-30"), "{date: 2021-11-30}", "{date: 2021-11-30}"),
])
def test_forged_stamps_are_refused_and_nothing_is_deleted(built, forged_window, window_vars, plus_vars):
    project, before = built
    assert before["2021-11-30"][0] == 184
    project.execute(f"insert into {STAMPS} select * replace (? as window_start, ? as window_end, current_timestamp as built_at) "
                    f"from {STAMPS} where node_id <> '__run__'", list(forged_window))
    result = design_card(project, window_vars)
    text = output_of(result)
    assert result.returncode != 0
    assert "Stale inputs" in text, text[-3000:]
    assert "int_ml_feature_store__inputs holds the window 2021-11-26 to 2021-11-29" in text
    assert "which does not cover this run's window" in text and "fail their seal" in text
    assert f"Nothing was written. Run: dbt build --select +ml_feature_store_v2 --vars '{plus_vars}'" in text
    assert "allow_mass_delete" not in text
    assert rows_written(result) == {}
    assert rows_by_date(project) == before


def test_a_damaged_stamp_table_is_named_and_the_plus_build_recreates_it(built):
    project, before = built
    project.execute(f"alter table {STAMPS} rename column window_end to last_date")
    refused = design_card(project, INPUT_RANGE_VARS)
    text = output_of(refused)
    assert refused.returncode != 0
    assert ('"build_stamps" that records what they were built from is damaged or written by an older version '
            "of this project (missing columns: window_end; unexpected columns: last_date)") in text, text[-3000:]
    assert f"Nothing was written. Run: dbt build --select +ml_feature_store_v2 --vars '{INPUT_RANGE_VARS}'" in text
    assert "Binder Error" not in text
    assert rows_by_date(project) == before
    repaired = build_models(project, "--select", "+ml_feature_store_v2", "--vars", INPUT_RANGE_VARS, check=False)
    text = output_of(repaired)
    assert repaired.returncode == 0, text[-3000:]
    assert ("was damaged or written by an older version of this project (missing columns: window_end; "
            "unexpected columns: last_date): recreated it empty") in text
    columns = [c for (c,) in project.query("select column_name from information_schema.columns where table_schema = "
                                           "'dev_nba_staging' and table_name = 'build_stamps' order by ordinal_position")]
    assert "window_end" in columns and "last_date" not in columns
    # The recreated table vouches for what the `+` build wrote: the design card's command runs again.
    again = design_card(project, INPUT_RANGE_VARS)
    assert again.returncode == 0, output_of(again)[-3000:]
    assert rows_written(again) == {"ml_feature_store_v2": 0, "ml_feature_store_v2_v2": 0}  # the name selects both versions


def test_a_source_edited_in_place_stops_the_command_without_plus(built):
    project, before = built
    # Points of 11-20 corrected in place: same rows, same processed_at, same data_hash. They are in
    # the last-10 history of every window date, so the `+` build would rewrite feature rows.
    project.execute(f"update {PGS} set points = points + 7, ft_makes = ft_makes + 7 where game_date = '2021-11-20' and is_active")
    result = design_card(project, "{date: 2021-11-29}")
    text = output_of(result)
    assert result.returncode != 0
    assert ("int_ml_feature_store__inputs holds the window 2021-11-26 to 2021-11-29 (built "
            in text and f"and {PGS} changed since it was built" in text), text[-3000:]
    assert "Nothing was written. Run: dbt build --select +ml_feature_store_v2 --vars '{date: 2021-11-29}'" in text
    assert rows_by_date(project) == before
    # The refusal was needed: the `+` command rewrites rows of that date.
    plus = build_models(project, "--select", "+ml_feature_store_v2", "--vars", "{date: 2021-11-29}")
    assert rows_written(plus)["ml_feature_store_v2"] > 0
    assert rows_by_date(project)["2021-11-29"] != before["2021-11-29"]


def test_a_dropped_stamp_table_is_named_as_dropped(built):
    project, before = built
    project.execute(f"drop table {STAMPS}")
    result = design_card(project, "{date: 2021-11-29}")
    text = output_of(result)
    assert result.returncode != 0
    assert "that records what they were built from does not exist (dropped, or never created in this database)" in text, text[-3000:]
    assert "int_ml_feature_store__inputs" in text
    assert "never built by this project's current code" not in text
    assert "Nothing was written. Run: dbt build --select +ml_feature_store_v2 --vars '{date: 2021-11-29}'" in text
    assert rows_by_date(project) == before


def redeliver(project: DbtProject, game_date: str, at: str) -> None:
    """Upstream re-processes every row of game_date at `at`: processed_at moves, created_at (the first delivery) stays."""
    for table in SOURCES:
        project.execute(f"update {table} set processed_at = timestamp '{at}' where game_date = '{game_date}'")


def test_a_redelivery_of_the_last_date_does_not_stop_a_rerun_of_the_window(tmp_path, full_build):
    project = DbtProject(tmp_path, full_build.db)  # every demo date built
    # 2021-11-30's rows were delivered on 12-01 08:00-08:05 UTC, before 12-01's nightly run (11:00
    # UTC); the upstream re-processed them on 12-03. Nothing is missing.
    redeliver(project, "2021-11-30", "2021-12-03 09:00:00")
    window = "start_date: 2021-11-24, end_date: 2021-12-01"
    freshness = project.dbt("source", "freshness", "--vars", "{" + window + "}", check=False)
    assert freshness.returncode == 0, output_of(freshness)[-3000:]
    rerun = build_models(project, "--vars", "{" + window + "}", check=False)
    assert rerun.returncode == 0, output_of(rerun)[-3000:]
    assert "Stale sources" not in output_of(rerun)
    # One feature row per player of each slate of the window (from the sources; no games on 11-25).
    slates = project.query("select count(distinct (player_lookup, game_date)) from nba_analytics.upcoming_player_game_context "
                           "where game_date between '2021-11-24' and '2021-12-01'")[0][0]
    assert project.query(f"select count(*) from {FEATURES} where game_date between '2021-11-24' and '2021-12-01'"
                         )[0][0] == slates > 1000
    refreshed = build_models(project, "--full-refresh", "--vars", "{" + window + ", allow_full_refresh_of_window: true}",
                             check=False)
    assert refreshed.returncode == 0, output_of(refreshed)[-3000:]
    assert project.query(f"select count(*) from {FEATURES}")[0][0] == slates  # the window alone, as asked


@pytest.mark.check
def test_a_late_first_delivery_still_fails_freshness(project):
    # 2021-11-30's box scores first arrive 30 hours late (12-02 14:00 UTC): at 12-01's nightly run
    # the latest box scores were 11-29's, first delivered 11-30 08:00-08:09 UTC, 26.9 h earlier (> 24).
    project.execute(f"update {PGS} set processed_at = processed_at + interval 30 hour, "
                    "created_at = created_at + interval 30 hour where game_date = '2021-11-30'")
    freshness = project.dbt("source", "freshness", "--vars", "{date: 2021-12-01}", check=False)
    assert freshness.returncode != 0
    assert "player_game_summary" in output_of(freshness)
    project.dbt("seed", "--quiet")
    build = build_models(project, "--select", "+ml_feature_store_v2", "--vars", "{date: 2021-12-01}", check=False)
    text = output_of(build)
    assert build.returncode != 0
    assert f"{PGS}: latest load 2021-11-30 08:09:00, 26.9 h before 2021-12-01 11:00:00 UTC" in text, text[-3000:]
    assert "team_offense_game_summary: latest load" not in text  # delivered on time

