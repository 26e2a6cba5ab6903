"""Integration tests of incremental reprocessing (docs/decisions.md#run-window, #source-tracking,
#hash-skipping, #no-stale-rows, #unique-before-merge).

Each test drives real `dbt build` runs on a private copy of the demo slice (first six weeks of
2021-22) and compares the stored output tables before and after a change of the sources:
what is rewritten (written_at advances, data_hash changes), what is kept byte for byte, what is
deleted. One dbt invocation costs several seconds, so read-only checks share one built project.

What the differential scenarios (test_differential.py) already prove for every correction is not
repeated here: a re-run without changes writes nothing (`duplicate`), a player leaving the slate
loses exactly his rows (`slate`), late box scores (`late_game`). These tests check what only a
hand-computed expectation shows: the new values after one changed box score, a range equal to its
single dates, and the catch-up window.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dbt_harness import (
    OUTPUT_TABLES,
    DbtProject,
    all_states,
    build_models,
    output_of,
    changed_keys,
    rows_written,
    run_window_logged,
)

D = "2021-11-30"  # the last date with box scores in the demo slice; 2021-12-01 is the next slate
D_DATE = dt.date(2021, 11, 30)
RANGE_VARS = "{start_date: 2021-11-28, end_date: 2021-11-30}"
RANGE_DATES = [dt.date(2021, 11, 28), dt.date(2021, 11, 29), dt.date(2021, 11, 30)]
PGS = "nba_analytics.player_game_summary"
UPCOMING = "nba_analytics.upcoming_player_game_context"


def date_vars(date: str) -> str:
    return "{date: " + date + "}"


def assert_no_rows_written(result, label: str) -> None:
    written = rows_written(result)
    assert set(written) == set(OUTPUT_TABLES), f"{label}: post-hook log lines missing: {written}"
    assert written == {name: 0 for name in OUTPUT_TABLES}, f"{label}: rows written {written}"


def latest_played_game(project: DbtProject) -> tuple:
    """(player_lookup, game_id, points) of the latest game before D of the first player (by name)
    who is in D's slate, has a daily-cache and a shot-zone row for D, at least 10 played games,
    and whose latest played game has a missed paint shot (so one more paint make stays valid)."""
    rows = project.query(f"""
        with played as (
            select
                pgs.*,
                row_number() over (partition by player_lookup order by game_date desc) as recency
            from {PGS} as pgs
            where game_date < date '{D}' and is_active and (minutes_played > 0 or points > 0)
        )
        select played.player_lookup, played.game_id, played.points
        from played
        inner join dev_nba_precompute.player_daily_cache as pdc
            on pdc.player_lookup = played.player_lookup and pdc.cache_date = date '{D}'
        inner join dev_nba_precompute.player_shot_zone_analysis as psza
            on psza.player_lookup = played.player_lookup and psza.analysis_date = date '{D}'
        where
            played.recency = 1
            and played.minutes_played > 0
            and played.paint_makes < played.paint_attempts
            and (select count(*) from played as p2 where p2.player_lookup = played.player_lookup) >= 10
        order by played.player_lookup
        limit 1
    """)
    assert rows, "no suitable player in the demo slice"
    return rows[0]


def last_10_played_points(project: DbtProject, player: str) -> list[int]:
    """Points of the player's last 10 played games before D, newest first (source has one row per game)."""
    rows = project.query(f"""
        select points from {PGS}
        where player_lookup = ? and game_date < date '{D}' and is_active and (minutes_played > 0 or points > 0)
        order by game_date desc limit 10
    """, [player])
    return [row[0] for row in rows]


# --------------------------------------------------------------------------------------------------
# 1. One upstream row changes
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_d_db(tmp_path_factory, demo_source_db):
    """The database after a build of D (built once; each test gets a copy)."""
    project = DbtProject(tmp_path_factory.mktemp("built_d"), demo_source_db)
    build_models(project, "--vars", date_vars(D))
    return project.db


@pytest.fixture
def built_d(tmp_path, built_d_db):
    """A project whose outputs hold D, built by `dbt build --vars '{date: D}'`."""
    return DbtProject(tmp_path, built_d_db)


@pytest.mark.check
def test_one_changed_box_score_rewrites_only_that_players_rows(built_d):
    project = built_d
    player, game_id, _ = latest_played_game(project)
    last_10 = last_10_played_points(project, player)
    assert len(last_10) == 10
    psza_before = project.query(
        f"select paint_pct_last_10, games_in_sample_10 from dev_nba_precompute.player_shot_zone_analysis "
        f"where player_lookup = ? and analysis_date = date '{D}'", [player])[0]
    paint_10 = project.query(f"""
        select sum(paint_makes), sum(paint_attempts) from (
            select paint_makes, paint_attempts from {PGS}
            where player_lookup = ? and game_date < date '{D}' and is_active
              and (minutes_played > 0 or fg_attempts > 0)
            order by game_date desc limit 10)
    """, [player])[0]
    before = all_states(project)
    pdc_before = project.query(
        f"select points_avg_last_5, points_avg_last_10 from dev_nba_precompute.player_daily_cache "
        f"where player_lookup = ? and cache_date = date '{D}'", [player])[0]

    # One more made two in the paint, assisted: every dependent box-score column moves with it.
    project.execute(f"""
        update {PGS} set
            points = points + 2, fg_makes = fg_makes + 1, paint_makes = paint_makes + 1,
            assisted_fg_makes = assisted_fg_makes + 1,
            ts_pct = round(ts_pct * (points + 2) / points, 3),
            data_hash = substr(md5(data_hash || '|edited'), 1, 16),
            processed_at = processed_at + interval 1 hour
        where player_lookup = ? and game_id = ?
    """, [player, game_id])

    result = build_models(project, "--vars", date_vars(D))
    after = all_states(project)

    changed = {name: changed_keys(before[name], after[name]) for name in OUTPUT_TABLES}
    written = rows_written(result)
    print(f"\nchanged {player} {game_id}: rewritten rows per table {({n: len(k) for n, k in changed.items()})}, "
          f"post-hook log {written}")

    his_row = {(player, D_DATE)}
    assert changed == {
        "player_shot_zone_analysis": his_row,  # the game is his newest qualifying one: in his last 10 / 20
        "team_defense_zone_analysis": set(),
        "player_daily_cache": his_row,
        "player_composite_factors": his_row,  # its source_player_shot_hash tracks his shot-zone row
        "ml_feature_store_v2": his_row,
        "ml_feature_store_v2_v2": his_row,  # features 0-24 are version 1's; his history (31-36) changed too
    }
    assert written == {name: len(keys) for name, keys in changed.items()}
    for name, keys in changed.items():
        for key in keys:
            old_hash, old_written, old_created = before[name][key]
            new_hash, new_written, new_created = after[name][key]
            assert new_hash != old_hash, f"{name}: rewritten with the same data_hash"
            assert new_written is not None and (old_written is None or new_written > old_written), name
            assert new_created == old_created, f"{name}: created_at of an updated row must stay"

    # The new values are the ones the changed game implies (points in his last 5 and last 10).
    pdc_after = project.query(
        f"select points_avg_last_5, points_avg_last_10 from dev_nba_precompute.player_daily_cache "
        f"where player_lookup = ? and cache_date = date '{D}'", [player])[0]
    assert pdc_after[0] == pdc_before[0] + Decimal("0.4")
    assert pdc_after[1] == pdc_before[1] + Decimal("0.2") == Decimal(sum(last_10) + 2) / 10
    makes, attempts = paint_10
    expected_pct = (Decimal(makes + 1) / Decimal(attempts)).quantize(Decimal("0.001"), rounding="ROUND_HALF_UP")
    new_pct = project.query(
        f"select paint_pct_last_10 from dev_nba_precompute.player_shot_zone_analysis "
        f"where player_lookup = ? and analysis_date = date '{D}'", [player])[0][0]
    assert psza_before[1] == 10 and new_pct == expected_pct != psza_before[0]
    features = project.query(
        f"select features[1], features[2] from dev_nba_predictions.ml_feature_store_v2 "
        f"where player_lookup = ? and game_date = date '{D}'", [player])[0]
    assert features == pytest.approx((float(pdc_after[0]), float(pdc_after[1])))


# --------------------------------------------------------------------------------------------------
# 2. A range equals its single dates
# --------------------------------------------------------------------------------------------------


def test_range_build_equals_single_date_builds(tmp_path, demo_source_db):
    ranges = DbtProject(tmp_path / "range", demo_source_db)
    build_models(ranges, "--vars", RANGE_VARS)
    ranged = all_states(ranges)
    singles = DbtProject(tmp_path / "singles", demo_source_db)
    for date in RANGE_DATES:
        build_models(singles, "--vars", date_vars(date.isoformat()))
    single = all_states(singles)
    for name in OUTPUT_TABLES:
        range_hashes = {key: state[0] for key, state in ranged[name].items()}
        single_hashes = {key: state[0] for key, state in single[name].items()}
        assert len(range_hashes) > 0, name
        differing = changed_keys(range_hashes, single_hashes)
        assert not differing, f"{name}: {len(differing)} keys differ, e.g. {sorted(differing)[:3]}"


# --------------------------------------------------------------------------------------------------
# 3. Catch-up and full refresh without vars
# --------------------------------------------------------------------------------------------------


def first_qualifying_dates(project: DbtProject) -> dict:
    """The first run date of each table computed from the sources (docs/decisions.md#who-gets-a-row):
    shot zones need 10 qualifying games in the season before D, team defence 15 games, the daily
    cache a slate player with 5 played games; composite factors and the feature store any slate row."""
    run_dates = f"""(select distinct game_date from nba_raw.nbac_schedule
                     where game_date <= (select max(game_date) from {UPCOMING}))"""
    psza = project.query(f"""
        select min(d.game_date) from {run_dates} as d
        where exists (select 1 from {PGS} as g where g.game_date < d.game_date and g.is_active
                      and (g.minutes_played > 0 or g.fg_attempts > 0)
                      group by g.player_lookup having count(*) >= 10)""")[0][0]
    tdza = project.query(f"""
        select min(d.game_date) from {run_dates} as d
        where exists (select 1 from nba_analytics.team_defense_game_summary as t where t.game_date < d.game_date
                      group by t.defending_team_abbr having count(*) >= 15)""")[0][0]
    pdc = project.query(f"""
        select min(d.game_date) from {run_dates} as d
        where exists (select 1 from {UPCOMING} as u
                      inner join {PGS} as g on g.player_lookup = u.player_lookup and g.game_date < u.game_date
                      where u.game_date = d.game_date and g.is_active and (g.minutes_played > 0 or g.points > 0)
                      group by u.player_lookup having count(*) >= 5)""")[0][0]
    slate = project.query(f"select min(game_date) from {UPCOMING}")[0][0]
    return {
        "player_shot_zone_analysis": psza,
        "team_defense_zone_analysis": tdza,
        "player_daily_cache": pdc,
        "player_composite_factors": slate,
        "ml_feature_store_v2": slate,
        "ml_feature_store_v2_v2": slate,
    }


def game_dates_until(game_dates: list, last: str) -> list:
    return [d for d in game_dates if d <= dt.date.fromisoformat(last)]


def test_catch_up_without_new_data_writes_nothing_and_full_refresh_covers_every_date(tmp_path, full_build):
    # The first build without vars (the session's full build of the demo), then runs on a copy of it.
    project, first = DbtProject(tmp_path, full_build.db), full_build.result
    assert run_window_logged(first)[0] == "all"
    full = all_states(project)
    game_dates = [row[0] for row in project.query(
        "select distinct game_date from nba_raw.nbac_schedule order by 1")]
    first_dates = first_qualifying_dates(project)
    for name in OUTPUT_TABLES:
        built = sorted({key[-1] for key in full[name]})
        expected = [d for d in game_dates_until(game_dates, "2021-12-01") if first_dates[name] <= d]
        assert built == expected, f"{name}: built {built[0]}..{built[-1]} ({len(built)} dates), expected " \
                                  f"{expected[0]}..{expected[-1]} ({len(expected)} dates)"

    run_dates = "select count(*), min(game_date), max(game_date) from dev_nba_staging.int_run_dates"
    assert project.query(run_dates) == [(len(game_dates_until(game_dates, "2021-12-01")), dt.date(2021, 10, 19),
                                         dt.date(2021, 12, 1))]

    # A catch-up is a nightly run for now: on the wall clock, the demo's 2021 loads are stale, and it
    # stops before writing. As of the demo's last nightly run (2021-12-01 06:00 New York) they are not.
    stale = build_models(project, check=False)
    assert stale.returncode != 0 and "Stale sources as of the run" in output_of(stale), output_of(stale)[-2000:]
    assert all_states(project) == full
    again = build_models(project, "--vars", "{freshness_as_of: '2021-12-01 11:00:00'}")
    # Every table holds 2021-12-01, the latest slate: the catch-up window starts the day after, and
    # the sources hold no later slate, so it covers no date at all (a full window would cover 44).
    assert project.query(run_dates) == [(0, None, None)]
    assert_no_rows_written(again, "catch-up with nothing new")
    assert all_states(project) == full

    refreshed = build_models(project, "--full-refresh")
    assert run_window_logged(refreshed)[0] == "all"
    after = all_states(project)
    for name in OUTPUT_TABLES:
        assert {k: s[0] for k, s in after[name].items()} == {k: s[0] for k, s in full[name].items()}, name

    # Last (it only concerns the log): the on-run-start line must report the catch-up window too.
    assert run_window_logged(again)[:2] == ("catch_up", "2021-12-02"), run_window_logged(again)
