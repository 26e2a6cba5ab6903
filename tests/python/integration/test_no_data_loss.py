"""No command loses data: partial selections, ranges and full refreshes either give what a `+` build
gives or stop before writing, naming the input and the command to run; merges count what they
delete and stop on mass deletions; gates and freshness run on every selection; bad source rows are
stopped at staging with their names; a wrong database file is named."""
from __future__ import annotations

import re

import pytest

from dbt_harness import (
    OUTPUT_TABLES, DbtProject, build_models, output_of, rows_written,
)

DELETED = re.compile(r"rows deleted: (\w+) = (\d+)")
# Columns a rebuild rewrites by design (write times); everything else must be equal.
BOOKKEEPING = {"processed_at", "created_at", "updated_at", "feature_generation_time_ms"}


def rows_deleted(result) -> dict:
    return {name: int(n) for name, n in DELETED.findall(result.stdout)}


def contents(project: DbtProject, name: str, where: str = "true") -> set:
    """Every row of an output table (bookkeeping columns left out), as a set of tuples."""
    schema = OUTPUT_TABLES[name][0]
    columns = [c for (c,) in project.query(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name]) if c not in BOOKKEEPING]
    rows = project.query(f"select {', '.join(columns)} from {schema}.{name} where {where}")
    return {tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows}


def everything(project: DbtProject) -> dict:
    return {name: contents(project, name) for name in OUTPUT_TABLES}


@pytest.fixture(scope="module")
def built(tmp_path_factory, full_build):
    """Outputs hold every demo date (a copy of the full build); the last build was `+` for 11-29 alone."""
    project = DbtProject(tmp_path_factory.mktemp("no_data_loss"), full_build.db)
    build_models(project, "--select", "+ml_feature_store_v2", "+player_shot_zone_analysis", "--vars", "{date: 2021-11-29}")
    return project, everything(project)


@pytest.mark.parametrize("selection, window_vars, stale_input", [
    # The design card's command, for a date the stored inputs were not built for.
    (["ml_feature_store_v2"], "{date: 2021-12-01}", "int_ml_feature_store__inputs holds the window 2021-11-29 to 2021-11-29"),
    # ... for a range.
    (["ml_feature_store_v2"], "{start_date: 2021-11-20, end_date: 2021-12-01}", "int_ml_feature_store__inputs holds the window 2021-11-29 to 2021-11-29"),
    # SQL models selected alone.
    (["player_daily_cache", "player_shot_zone_analysis"], "{date: 2021-12-01}", "int_upcoming_player_slate holds the window 2021-11-29 to 2021-11-29"),
])
def test_a_selection_whose_inputs_hold_another_window_stops_before_writing(built, selection, window_vars, stale_input):
    project, before = built
    result = project.build("--select", *selection, "--vars", window_vars, check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert "Stale inputs" in text and stale_input in text, text[-3000:]
    assert "which does not cover this run's window" in text
    expected_command = "dbt build --select " + " ".join("+" + name for name in selection) + f" --vars '{window_vars}'"
    assert f"Nothing was written. Run: {expected_command}" in text
    assert rows_written(result) == {}
    assert everything(project) == before


def test_full_refresh_with_a_date_window_would_drop_other_dates_and_stops(built):
    project, before = built
    result = project.build("--select", "+ml_feature_store_v2", "--full-refresh", "--vars", "{date: 2021-11-30}", check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert "--full-refresh with a date window would replace" in text and "Nothing was written" in text, text[-2000:]
    assert everything(project) == before


@pytest.mark.check
def test_a_selection_whose_inputs_cover_the_window_gives_what_the_plus_build_gives(built):
    """Rows of 11-29 removed by hand come back exactly as the `+` build wrote them, from the stored inputs."""
    project, before = built
    for name in ("ml_feature_store_v2", "player_daily_cache"):
        project.execute(f"delete from {OUTPUT_TABLES[name][0]}.{name} where {OUTPUT_TABLES[name][1]} = '2021-11-29'")
    result = project.build("--select", "ml_feature_store_v2", "player_daily_cache", "--vars", "{date: 2021-11-29}")
    assert everything(project) == before
    written = rows_written(result)
    assert written["ml_feature_store_v2"] == len(contents(project, "ml_feature_store_v2", "game_date = '2021-11-29'")) > 0
    assert rows_deleted(result) == {"ml_feature_store_v2": 0, "ml_feature_store_v2_v2": 0, "player_daily_cache": 0}
    # A second run of the same command changes nothing and deletes nothing.
    again = project.build("--select", "ml_feature_store_v2", "--vars", "{date: 2021-11-29}")
    both_versions = {"ml_feature_store_v2": 0, "ml_feature_store_v2_v2": 0}  # the name selects every version
    assert rows_written(again) == both_versions and rows_deleted(again) == both_versions


def test_inputs_built_before_a_source_changed_stop_the_selection_naming_the_source(built):
    project, before = built
    project.execute("update nba_analytics.team_offense_game_summary set win_flag = not win_flag, "
                    "processed_at = processed_at + interval 1 day where game_id = '20211019_IND_CHA'")
    try:
        result = project.build("--select", "ml_feature_store_v2", "--vars", "{date: 2021-11-29}", check=False)
        text = output_of(result)
        assert result.returncode != 0
        assert "nba_analytics.team_offense_game_summary changed since it was built" in text, text[-2000:]
        assert everything(project) == before
    finally:
        project.execute("update nba_analytics.team_offense_game_summary set win_flag = not win_flag, "
                        "processed_at = processed_at - interval 1 day where game_id = '20211019_IND_CHA'")


@pytest.fixture
def one_date(tmp_path, full_build):
    """A copy of the full build: every date built, its inputs cover 2021-12-01."""
    return DbtProject(tmp_path, full_build.db)


def slate_players(project, date):
    return [p for (p,) in project.query(
        "select distinct player_lookup from nba_analytics.upcoming_player_game_context where game_date = ? order by 1", [date])]


def test_merges_count_deletions_and_stop_before_a_mass_deletion(one_date):
    project = one_date
    players = slate_players(project, "2021-12-01")
    # One player leaves the slate: his row is deleted, and the log says so.
    project.execute("delete from nba_analytics.upcoming_player_game_context where game_date = '2021-12-01' and player_lookup = ?", [players[0]])
    one = build_models(project, "--select", "+ml_feature_store_v2", "--vars", "{date: 2021-12-01}")
    assert rows_deleted(one)["ml_feature_store_v2"] == 1
    assert rows_deleted(one)["player_composite_factors"] == 1
    assert rows_written(one)["ml_feature_store_v2"] == 0
    before = contents(project, "ml_feature_store_v2")
    # A third of the slate disappears: above max_delete_share (20 %), the merge stops before writing.
    gone = players[1::3]
    project.execute("delete from nba_analytics.upcoming_player_game_context where game_date = '2021-12-01' "
                    f"and player_lookup in ({', '.join('?' * len(gone))})", gone)
    stopped = build_models(project, "--select", "+ml_feature_store_v2", "--vars", "{date: 2021-12-01}", check=False)
    text = output_of(stopped)
    assert stopped.returncode != 0
    assert re.search(r"stopped before writing: it would delete \d+ of the window's \d+ rows", text), text[-3000:]
    assert "allow_mass_delete: true" in text
    assert contents(project, "ml_feature_store_v2") == before
    # Allowed on purpose: the rows go, and the log counts them.
    allowed = build_models(project, "--select", "+ml_feature_store_v2", "--vars", "{date: 2021-12-01, allow_mass_delete: true}")
    assert rows_deleted(allowed)["ml_feature_store_v2"] == len(gone)
    assert "allow_mass_delete: deleting" in output_of(allowed)
    assert len(contents(project, "ml_feature_store_v2")) == len(before) - len(gone)


def test_a_selection_without_plus_runs_the_completeness_gate_and_names_the_game(one_date):
    project = one_date
    game = project.query("select game_id, home_team_tricode from nba_raw.nbac_schedule where game_date = '2021-11-28' order by 1 limit 1")[0]
    project.execute("delete from nba_analytics.player_game_summary where game_id = ? and team_abbr = ?", list(game))
    result = project.build("--select", "ml_feature_store_v2", "--vars", "{date: 2021-12-01}", check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert "Gates failed before any model ran" in text and "completeness_gate_box_scores" in text, text[-3000:]
    assert f"game_id={game[0]}" in text and f"missing={game[1]}: player box scores" in text


def test_a_selection_without_plus_checks_freshness_as_of_its_date(one_date):
    project = one_date
    # The box scores of 11-30 arrive 30 hours late: at 12-01's nightly run they were not there.
    project.execute("update nba_analytics.player_game_summary set processed_at = processed_at + interval 30 hour, "
                    "created_at = created_at + interval 30 hour where game_date = '2021-11-30'")
    result = project.build("--select", "ml_feature_store_v2", "--vars", "{date: 2021-12-01}", check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert "Stale sources as of the run" in text, text[-3000:]
    assert re.search(r"nba_analytics\.player_game_summary: latest load 2021-11-30 08:\d\d:00, 2\d\.\d h before 2021-12-01 11:00:00 UTC", text), text[-3000:]


def test_bad_source_rows_stop_at_staging_with_their_names(project):
    project.dbt("seed", "--quiet")
    nan_row = project.query("select game_id, player_lookup from nba_analytics.player_game_summary "
                            "where game_date = '2021-11-20' and is_active order by 1, 2 limit 1")[0]
    project.execute("update nba_analytics.player_game_summary set usage_rate = 'nan'::double where game_id = ? and player_lookup = ?", list(nan_row))
    project.execute("update nba_analytics.team_offense_game_summary set pace = 'inf'::double where game_id = '20211118_DEN_ORL'")
    project.execute("update nba_analytics.player_game_summary set game_date = '2030-11-30' where game_id = '20211129_SAS_TOR'")
    project.execute("insert into nba_analytics.team_defense_game_summary select * replace ('20211120_XXX_YYY' as game_id) "
                    "from nba_analytics.team_defense_game_summary where game_id = (select min(game_id) from nba_analytics.team_defense_game_summary where game_date = '2021-11-20')")
    for selection in (["+ml_feature_store_v2"], ["ml_feature_store_v2"]):
        result = build_models(project, "--select", *selection, "--vars", "{date: 2021-12-01}", check=False)
        text = output_of(result)
        assert result.returncode != 0
        assert (f"nba_analytics.player_game_summary: player_lookup={nan_row[1]}, game_id={nan_row[0]}, game_date=2021-11-20"
                in text), text[-4000:]
        assert "broken_rule=usage_rate is finite, broken_value=nan" in text
        assert "nba_analytics.team_offense_game_summary: game_id=20211118_DEN_ORL" in text
        assert "broken_rule=pace is finite, broken_value=inf" in text
        # each moved row is named with its player as well as the game
        assert re.search(r"nba_analytics\.player_game_summary: player_lookup=\w+, game_id=20211129_SAS_TOR, game_date=2030-11-30, "
                         r"team_abbr=(SAS|TOR), schedule_game_date=2021-11-29, broken_rule=game_date differs from the schedule",
                         text), text[-4000:]
        assert "game_id=20211120_XXX_YYY" in text and "broken_rule=game not in the schedule" in text
        assert project.query("select count(*) from information_schema.tables where table_name in "
                             f"({', '.join(repr(name) for name in OUTPUT_TABLES)})")[0][0] == 0


def test_a_database_without_the_sources_is_named_before_anything_is_created(project, tmp_path):
    wrong = tmp_path / "typo.duckdb"
    env = {**project.env, "DBT_DUCKDB_PATH": str(wrong)}
    project.env = env
    result = project.build("--select", "+ml_feature_store_v2", "--vars", "{date: 2021-12-01}", check=False)
    text = output_of(result)
    assert result.returncode != 0
    assert f"The DuckDB file {wrong} (DBT_DUCKDB_PATH) holds no Phase 3 sources" in text, text[-2000:]
    assert "nba_analytics.player_game_summary" in text and "make data DB=<path>" in text
    assert "DuckDB created it empty when dbt connected: delete it." in text
    # DuckDB creates the file when dbt connects; nothing is created inside it.
    import duckdb
    with duckdb.connect(str(wrong), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.tables").fetchone()[0] == 0
