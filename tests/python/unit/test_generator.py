"""Tests of the Phase 3 data generator (`python -m nba_phase3_gen`).

Databases are generated once per module through the CLI: one full 2021-22 season, the six-week
demo slice (--until 2021-12-01), the slice again (twice into one file), the slice with another
seed, and four seasons for the prop-line measurement. Every consistency rule is checked as SQL over
all rows.
"""

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from nba_phase3_gen import league, schedule  # noqa: E402
from nba_phase3_gen.rng import stream  # noqa: E402

UNTIL = "2021-12-01"
SOURCES = {
    "nba_raw": REPO / "models/staging/nba_raw/_nba_raw__sources.yml",
    "nba_analytics": REPO / "models/staging/nba_analytics/_nba_analytics__sources.yml",
}
TABLES = {
    "nba_raw.nbac_schedule": ("game_id",),
    "nba_analytics.player_game_summary": ("player_lookup", "game_id"),
    "nba_analytics.team_offense_game_summary": ("game_id", "team_abbr"),
    "nba_analytics.team_defense_game_summary": ("game_id", "defending_team_abbr"),
    "nba_analytics.upcoming_player_game_context": ("player_lookup", "game_id"),
    "nba_analytics.upcoming_team_game_context": ("game_id", "team_abbr"),
    "nba_raw.odds_api_player_points_props": ("game_id", "player_lookup", "bookmaker", "snapshot_timestamp"),
}
GAME_TABLES = [t for t in TABLES if t != "nba_raw.nbac_schedule"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nba_phase3_gen", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def generate(path: Path, *args: str) -> Path:
    result = run_cli("--db", str(path), *args)
    assert result.returncode == 0, result.stderr
    return path


def checksums(path: Path, where: str = "true", tables=tuple(TABLES)) -> dict:
    """Row count and an ordered fingerprint of the full text of every row, per table."""
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.sql(f"""
            select count(*), md5(coalesce(string_agg(r::varchar, chr(10) order by {', '.join(TABLES[t])}), ''))
            from {t} r where {where}""").fetchall()[0] for t in tables}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("generator")


@pytest.fixture(scope="module")
def full_db(workdir):
    return generate(workdir / "full.duckdb", "--seasons", "1", "--seed", "42")


@pytest.fixture(scope="module")
def slice_db(workdir):
    return generate(workdir / "slice.duckdb", "--seasons", "1", "--seed", "42", "--until", UNTIL)


@pytest.fixture(scope="module")
def full(full_db):
    with duckdb.connect(str(full_db), read_only=True) as con:
        yield con


@pytest.fixture(scope="module")
def sliced(slice_db):
    with duckdb.connect(str(slice_db), read_only=True) as con:
        yield con


@pytest.fixture(scope="module", params=["full", "sliced"])
def db(request):
    """Each consistency rule runs on both the full season and the demo slice."""
    return request.getfixturevalue(request.param)


def scalar(con, sql: str):
    return con.sql(sql).fetchall()[0][0]


def count(con, sql: str) -> int:
    return scalar(con, f"select count(*) from ({sql})")


# --- determinism and the --until prefix -------------------------------------------------------

def test_same_arguments_give_identical_tables_and_rerun_replaces(workdir, slice_db):
    path = workdir / "twice.duckdb"
    generate(path, "--seasons", "1", "--seed", "42", "--until", UNTIL)
    first = checksums(path)
    generate(path, "--seasons", "1", "--seed", "42", "--until", UNTIL)
    assert checksums(path) == first == checksums(slice_db)


def test_different_seed_gives_different_data(workdir, slice_db):
    other = generate(workdir / "seed7.duckdb", "--seasons", "1", "--seed", "7", "--until", UNTIL)
    mine, theirs = checksums(slice_db), checksums(other)
    assert all(mine[t][1] != theirs[t][1] for t in TABLES)


def test_slice_is_a_prefix_of_the_full_data(full_db, slice_db, sliced):
    before_cut = f"game_date < date '{UNTIL}'"
    assert checksums(slice_db, before_cut) == checksums(full_db, before_cut)
    next_slate = scalar(sliced, f"select min(game_date) from nba_raw.nbac_schedule where game_date >= date '{UNTIL}'")
    slate = f"game_date = date '{next_slate}'"
    contexts = ["nba_analytics.upcoming_player_game_context", "nba_analytics.upcoming_team_game_context"]
    assert all(checksums(slice_db, slate)[t] == checksums(full_db, slate)[t] for t in contexts)
    # the next slate's prop-line snapshots: those before tip-off (the in-game ones come with the game)
    snapshots = ["nba_raw.odds_api_player_points_props"]
    before_tipoff = checksums(full_db, f"{slate} and minutes_before_tipoff >= 0", snapshots)
    assert checksums(slice_db, slate, snapshots) == before_tipoff
    assert checksums(full_db, slate, snapshots)[snapshots[0]][0] > before_tipoff[snapshots[0]][0] > 1000
    assert checksums(slice_db, slate)["nba_analytics.upcoming_player_game_context"][0] > 100


def test_slice_status_and_rows_follow_the_cut(sliced):
    assert count(sliced, f"select 1 from nba_raw.nbac_schedule where (game_date < date '{UNTIL}') != (game_status = 3)") == 0
    assert count(sliced, "select 1 from nba_raw.nbac_schedule where game_status not in (1, 3)") == 0
    for table in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
        assert scalar(sliced, f"select max(game_date) from nba_analytics.{table}") < date(2021, 12, 1)
    final_games = scalar(sliced, "select count(*) from nba_raw.nbac_schedule where game_status = 3")
    assert scalar(sliced, "select count(distinct game_id) from nba_analytics.team_offense_game_summary") == final_games
    assert count(sliced, "select 1 from nba_raw.nbac_schedule") > 1300  # the whole season stays scheduled


def test_contexts_cover_final_games_and_the_next_slate_only(sliced):
    next_slate = scalar(sliced, f"select min(game_date) from nba_raw.nbac_schedule where game_date >= date '{UNTIL}'")
    expected = f"""select game_id from nba_raw.nbac_schedule
                   where game_status = 3 or game_date = date '{next_slate}'"""
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        got = f"select distinct game_id from nba_analytics.{table}"
        assert count(sliced, f"({expected}) except ({got})") == 0
        assert count(sliced, f"({got}) except ({expected})") == 0
    assert scalar(sliced, "select max(game_date) from nba_analytics.upcoming_player_game_context") == next_slate


def test_a_season_does_not_depend_on_the_seasons_generated_before_it(workdir):
    alone = generate(workdir / "2024.duckdb", "--start-season", "2024", "--until", "2024-11-15")
    after = generate(workdir / "2023-24.duckdb", "--start-season", "2023", "--seasons", "2", "--until", "2024-11-15")
    season_2024 = "game_id >= '20240701'"
    assert checksums(alone, season_2024) == checksums(after, season_2024)
    with duckdb.connect(str(after), read_only=True) as con:
        seasons = con.sql("""select season_year, min(game_date), max(game_status) from nba_raw.nbac_schedule
                             where is_regular_season group by all order by all""").fetchall()
    assert seasons == [(2023, date(2023, 10, 24), 3), (2024, date(2024, 10, 22), 3)]


# --- contract ------------------------------------------------------------------------------------

DUCKDB_TYPE = {"string": "VARCHAR", "date": "DATE", "int64": "BIGINT", "numeric": "DOUBLE",
               "boolean": "BOOLEAN", "timestamp": "TIMESTAMP"}


def contract_columns() -> dict:
    """{table: [(column, DuckDB type), ...]} from the sources YAML."""
    columns = {}
    for schema, path in SOURCES.items():
        for table in yaml.safe_load(path.read_text())["sources"][0]["tables"]:
            columns[f"{schema}.{table['name']}"] = [(c["name"], DUCKDB_TYPE[c["data_type"]]) for c in table["columns"]]
    return columns


def test_tables_have_exactly_the_contract_columns_types_and_order(full):
    contract = contract_columns()
    assert set(contract) == set(TABLES)
    for table, columns in contract.items():
        assert [(name, kind) for name, kind, *_ in full.sql(f"describe {table}").fetchall()] == columns


def test_no_nulls_except_ts_pct_without_shots(db):
    for table in TABLES:
        for (name,) in db.sql(f"select column_name from (describe {table})").fetchall():
            nulls = count(db, f"select 1 from {table} where {name} is null")
            if name == "ts_pct":
                assert count(db, f"select 1 from {table} where ts_pct is null and (fg_attempts > 0 or ft_makes > 0)") == 0
            else:
                assert nulls == 0, f"{table}.{name} has {nulls} NULLs"


def test_keys_unique_hash_format_and_timestamps(db):
    for table, keys in TABLES.items():
        cols = ", ".join(keys)
        assert count(db, f"select {cols} from {table} group by {cols} having count(*) > 1") == 0
        assert count(db, f"select 1 from {table} where not regexp_full_match(data_hash, '[0-9a-f]{{16}}')") == 0
        assert scalar(db, f"select count(distinct data_hash) = count(*) from {table}")
        assert count(db, f"select 1 from {table} where created_at != processed_at") == 0
    for table in ("player_game_summary", "team_offense_game_summary", "team_defense_game_summary"):
        assert count(db, f"""select 1 from nba_analytics.{table}
                             where processed_at < game_date + interval 1 day + interval 8 hour
                                or processed_at > game_date + interval 1 day + interval 9 hour""") == 0
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        assert count(db, f"select 1 from nba_analytics.{table} where processed_at != game_date - interval 6 hour") == 0


def test_season_year_and_date_are_the_schedules_on_every_row(db):
    for table in GAME_TABLES:
        columns = {c for (c,) in db.sql(f"select column_name from (describe {table})").fetchall()}
        season = "or t.season_year != s.season_year" if "season_year" in columns else ""
        assert count(db, f"""select 1 from {table} t left join nba_raw.nbac_schedule s using (game_id)
                             where s.game_id is null or t.game_date != s.game_date {season}""") == 0
    assert db.sql("select distinct season_year from nba_raw.nbac_schedule").fetchall() == [(2021,)]


# --- schedule ------------------------------------------------------------------------------------

TEAM_GAMES = """
    select game_id, game_date, is_regular_season, home_team_tricode as team, away_team_tricode as opponent
    from nba_raw.nbac_schedule
    union all
    select game_id, game_date, is_regular_season, away_team_tricode, home_team_tricode from nba_raw.nbac_schedule"""


def test_thirty_real_teams_82_games_41_at_home(full):
    teams = full.sql(f"""select team, count(*), sum(case when game_id like '%_' || team then 1 else 0 end)
                         from ({TEAM_GAMES}) where is_regular_season group by team order by team""").fetchall()
    assert [t for t, *_ in teams] == sorted(league.TEAMS) and len(teams) == 30
    assert {(games, home) for _, games, home in teams} == {(82, 41)}
    assert scalar(full, "select count(*) from nba_raw.nbac_schedule where is_regular_season") == 1230


def test_game_ids_and_flags(full):
    rows = full.sql("select game_id, game_date, home_team_tricode, away_team_tricode, is_regular_season, is_playoffs from nba_raw.nbac_schedule").fetchall()
    for game_id, day, home, away, regular, playoffs in rows:
        assert game_id == f"{day:%Y%m%d}_{away}_{home}" and home != away
        assert regular != playoffs


def test_no_team_plays_twice_on_a_date_and_nights_are_busy(full):
    assert count(full, f"select team, game_date from ({TEAM_GAMES}) group by all having count(*) > 1") == 0
    per_night = full.sql("""select min(n), max(n), count(*) from (select game_date, count(*) n from nba_raw.nbac_schedule
                            where is_regular_season group by game_date)""").fetchall()[0]
    assert per_night[0] >= 2 and per_night[1] <= 15 and 150 <= per_night[2] <= 175


def test_opening_night_end_of_season_and_all_star_break(full):
    first, last = full.sql("select min(game_date), max(game_date) from nba_raw.nbac_schedule where is_regular_season").fetchall()[0]
    assert first == date(2021, 10, 19)
    assert date(2022, 4, 5) <= last <= date(2022, 4, 15)
    gaps = full.sql("""select game_date, lead(game_date) over (order by game_date) - game_date as gap
                       from (select distinct game_date from nba_raw.nbac_schedule where is_regular_season)
                       qualify gap > 2""").fetchall()
    assert len(gaps) == 1  # the only gap of more than one empty day is the All-Star break
    start, gap = gaps[0]
    assert date(2022, 2, 10) <= start <= date(2022, 2, 28) and 7 <= gap <= 8


def test_back_to_backs_and_rest(full):
    rest = f"""select team, game_date - lag(game_date) over (partition by team order by game_date) - 1 as rest
               from ({TEAM_GAMES}) where is_regular_season"""
    b2b = [n for (n,) in full.sql(f"select count(*) filter (where rest = 0) from ({rest}) group by team").fetchall()]
    assert min(b2b) >= 10 and max(b2b) <= 18 and 12 <= sum(b2b) / len(b2b) <= 16
    share_0_to_4 = scalar(full, f"select avg(case when rest between 0 and 4 then 1.0 else 0 end) from ({rest}) where rest is not null")
    assert share_0_to_4 > 0.97


def test_playoffs_sixteen_teams_four_rounds_of_best_of_seven(full):
    series = full.sql("""
        with games as (
          select s.game_id, s.game_date, least(home_team_tricode, away_team_tricode) a,
                 greatest(home_team_tricode, away_team_tricode) b, o.team_abbr winner
          from nba_raw.nbac_schedule s join nba_analytics.team_offense_game_summary o
            on o.game_id = s.game_id and o.win_flag
          where s.is_playoffs)
        select a, b, sum(wins) games, max(wins) top_wins from (
          select a, b, winner, count(*) wins from games group by a, b, winner)
        group by a, b""").fetchall()
    assert len(series) == 15
    assert all(4 <= games <= 7 and wins == 4 for _, _, games, wins in series)
    teams = {t for a, b, *_ in series for t in (a, b)}
    assert len(teams) == 16
    assert sum(1 for a, b, *_ in series if league.CONFERENCE[a] != league.CONFERENCE[b]) == 1  # the Finals
    first_playoff = scalar(full, "select min(game_date) from nba_raw.nbac_schedule where is_playoffs")
    last_regular = scalar(full, "select max(game_date) from nba_raw.nbac_schedule where is_regular_season")
    assert first_playoff > last_regular


@pytest.mark.parametrize("season_year", sorted(league.SEASONS))
def test_every_supported_season_schedule(season_year):
    calendar = league.SEASONS[season_year]
    games = schedule.regular_season(calendar, stream(42, season_year, "schedule"))
    assert games.game_date.min() == calendar.opening_night
    per_team = games.home.value_counts() + games.away.value_counts()
    assert set(per_team) == {82} and len(per_team) == 30
    first, last = calendar.all_star_break
    assert not games.game_date.between(first, last).any() and (last - first).days + 1 == 6


# --- box scores add up ---------------------------------------------------------------------------

def test_player_rows_add_up(db):
    broken = count(db, """select 1 from nba_analytics.player_game_summary where
        paint_attempts + mid_range_attempts + three_pt_attempts != fg_attempts
        or paint_makes + mid_range_makes + three_pt_makes != fg_makes
        or paint_makes > paint_attempts or mid_range_makes > mid_range_attempts
        or three_pt_makes > three_pt_attempts or fg_makes > fg_attempts
        or assisted_fg_makes + unassisted_fg_makes != fg_makes
        or assisted_fg_makes < 0 or unassisted_fg_makes < 0 or ft_makes < 0
        or points != 2 * (fg_makes - three_pt_makes) + 3 * three_pt_makes + ft_makes
        or minutes_played < 0 or minutes_played > 58 or usage_rate < 0 or usage_rate > 100""")
    assert broken == 0


def test_minutes_beyond_48_only_in_overtime_and_team_minutes(db):
    minutes = db.sql("""select game_id, team_abbr, sum(minutes_played) m, max(minutes_played) top
                        from nba_analytics.player_game_summary group by all""").df()
    overtime = ((minutes.m - 240) / 25).round()
    assert overtime.between(0, 2).all() and ((minutes.m - 240 - 25 * overtime).abs() <= 2).all()
    assert (minutes.top <= 48 + 5 * overtime).all()


def test_ts_pct_and_usage_for_players_who_played(db):
    assert count(db, """select 1 from nba_analytics.player_game_summary
                        where minutes_played > 0 and fg_attempts > 0 and
                        (ts_pct is null or ts_pct > points / (2.0 * fg_attempts) + 0.0005 or ts_pct < 0 or ts_pct > 1.5)""") == 0
    assert count(db, "select 1 from nba_analytics.player_game_summary where minutes_played > 0 and fg_attempts > 2 and usage_rate = 0") == 0


def test_dnp_rows_have_zero_stats(db):
    zero = """minutes_played = 0 and points = 0 and fg_attempts = 0 and fg_makes = 0 and three_pt_attempts = 0
              and ft_makes = 0 and paint_attempts = 0 and mid_range_attempts = 0 and assisted_fg_makes = 0
              and usage_rate = 0 and ts_pct is null"""
    assert count(db, f"select 1 from nba_analytics.player_game_summary where not is_active and not ({zero})") == 0
    assert count(db, f"select 1 from nba_analytics.player_game_summary where minutes_played = 0 and not ({zero})") == 0
    inactive = count(db, "select 1 from nba_analytics.player_game_summary where not is_active")
    coach = count(db, "select 1 from nba_analytics.player_game_summary where is_active and minutes_played = 0")
    assert inactive > 100 and coach > 100


def test_player_rows_belong_to_the_game(db):
    assert count(db, """select 1 from nba_analytics.player_game_summary p join nba_raw.nbac_schedule s using (game_id)
        where not ((p.team_abbr = s.home_team_tricode and p.opponent_team_abbr = s.away_team_tricode)
                or (p.team_abbr = s.away_team_tricode and p.opponent_team_abbr = s.home_team_tricode))""") == 0
    sizes = db.sql("""select min(n), max(n), min(active) from (select count(*) n, count(*) filter (where is_active) active
                      from nba_analytics.player_game_summary group by game_id, team_abbr)""").fetchall()[0]
    assert sizes[0] >= 13 and sizes[1] <= 17 and sizes[2] >= 9


def test_team_offence_is_the_sum_of_its_players(db):
    assert count(db, """select 1 from nba_analytics.team_offense_game_summary o
        full join (select game_id, team_abbr, sum(points) pts from nba_analytics.player_game_summary group by all) p
        using (game_id, team_abbr) where o.points_scored is distinct from p.pts""") == 0


def test_one_winner_per_game_with_more_points(db):
    assert count(db, """select game_id from nba_analytics.team_offense_game_summary group by game_id
        having count(*) != 2 or count(*) filter (where win_flag) != 1
        or max(points_scored) filter (where win_flag) <= max(points_scored) filter (where not win_flag)""") == 0


def test_team_rows_match_the_schedule(db):
    assert count(db, """select 1 from nba_analytics.team_offense_game_summary o join nba_raw.nbac_schedule s using (game_id)
        where o.home_game != (o.team_abbr = s.home_team_tricode)
           or o.opponent_team_abbr != case when o.home_game then s.away_team_tricode else s.home_team_tricode end""") == 0


def test_defence_mirrors_the_opponents_offence(db):
    assert count(db, """
        with offence as (
          select game_id, team_abbr, sum(points) pts, sum(paint_attempts) pa, sum(paint_makes) pm,
                 sum(mid_range_attempts) ma, sum(mid_range_makes) mm, sum(three_pt_attempts) ta, sum(three_pt_makes) tm
          from nba_analytics.player_game_summary group by all)
        select 1 from nba_analytics.team_defense_game_summary d
        full join offence o on o.game_id = d.game_id and o.team_abbr = d.opponent_team_abbr
        where d.points_allowed is distinct from o.pts
           or d.opp_paint_attempts != o.pa or d.opp_paint_makes != o.pm
           or d.opp_mid_range_attempts != o.ma or d.opp_mid_range_makes != o.mm
           or d.opp_three_pt_attempts != o.ta or d.opp_three_pt_makes != o.tm
           or d.points_in_paint_allowed != 2 * o.pm or d.mid_range_points_allowed != 2 * o.mm
           or d.three_pt_points_allowed != 3 * o.tm""") == 0
    assert count(db, """select 1 from nba_analytics.team_defense_game_summary d
        join nba_analytics.team_offense_game_summary o on o.game_id = d.game_id and o.team_abbr = d.opponent_team_abbr
        where o.opponent_team_abbr != d.defending_team_abbr or o.points_scored != d.points_allowed""") == 0


def test_blocks_are_plausible(db):
    stats = db.sql("""select min(b), max(b), avg(b), avg(blocks_paint) > avg(blocks_mid_range) from (
        select *, blocks_paint + blocks_mid_range + blocks_three_pt b from nba_analytics.team_defense_game_summary)""").fetchall()[0]
    assert stats[0] >= 0 and stats[1] <= 10 and 3 <= stats[2] <= 7 and stats[3]
    assert count(db, """select 1 from nba_analytics.team_defense_game_summary
        where blocks_paint > opp_paint_attempts - opp_paint_makes or blocks_mid_range > opp_mid_range_attempts - opp_mid_range_makes
           or blocks_three_pt > opp_three_pt_attempts - opp_three_pt_makes or least(blocks_paint, blocks_mid_range, blocks_three_pt) < 0""") == 0


def test_ratings_follow_possessions(db):
    pairs = """select o.*, d.defensive_rating, d.opponent_pace, d.points_allowed, m.team_minutes
        from nba_analytics.team_defense_game_summary d
        join nba_analytics.team_offense_game_summary o on o.game_id = d.game_id and o.team_abbr = d.opponent_team_abbr
        join (select game_id, team_abbr, sum(minutes_played) team_minutes from nba_analytics.player_game_summary group by all) m
          on m.game_id = o.game_id and m.team_abbr = o.team_abbr"""
    assert count(db, f"""select 1 from ({pairs}) where abs(defensive_rating - 100 * points_allowed / opponent_pace) > 0.1
                         or abs(offensive_rating - defensive_rating) > 0.001""") == 0
    assert count(db, f"select 1 from ({pairs}) where team_minutes < 245 and pace != opponent_pace") == 0
    assert count(db, f"select 1 from ({pairs}) where team_minutes >= 245 and pace >= opponent_pace") == 0
    per_game = db.sql("""select min(pace), max(pace), min(offensive_rating), max(offensive_rating)
                         from nba_analytics.team_offense_game_summary""").fetchall()[0]
    assert 80 <= per_game[0] and per_game[1] <= 120 and 60 <= per_game[2] and per_game[3] <= 170


# --- realism (full season) -----------------------------------------------------------------------

REGULAR_PLAYERS = "select * from nba_analytics.player_game_summary p join nba_raw.nbac_schedule s using (game_id, season_year) where s.is_regular_season"


def test_league_zone_shares_and_accuracy(full):
    row = full.sql(f"""select sum(paint_attempts) / sum(fg_attempts), sum(mid_range_attempts) / sum(fg_attempts),
                              sum(three_pt_attempts) / sum(fg_attempts), sum(paint_makes) / sum(paint_attempts),
                              sum(mid_range_makes) / sum(mid_range_attempts), sum(three_pt_makes) / sum(three_pt_attempts)
                       from ({REGULAR_PLAYERS})""").fetchall()[0]
    paint, mid, three, paint_pct, mid_pct, three_pct = row
    assert 0.46 <= paint <= 0.53 and 0.09 <= mid <= 0.14 and 0.36 <= three <= 0.42
    assert 0.55 <= paint_pct <= 0.60 and 0.39 <= mid_pct <= 0.45 and 0.34 <= three_pct <= 0.38


def test_teams_differ_by_zone_on_offence_and_defence(full):
    spread = full.sql("""
        select max(p) - min(p), max(m) - min(m), max(t) - min(t), min(p), max(p), min(t), max(t) from (
          select sum(opp_paint_makes) / sum(opp_paint_attempts) p, sum(opp_mid_range_makes) / sum(opp_mid_range_attempts) m,
                 sum(opp_three_pt_makes) / sum(opp_three_pt_attempts) t
          from nba_analytics.team_defense_game_summary group by opponent_team_abbr)""").fetchall()[0]
    assert spread[0] >= 0.04 and spread[1] >= 0.05 and 0.03 <= spread[2] <= 0.09
    assert 0.50 <= spread[3] and spread[4] <= 0.65 and 0.31 <= spread[5] and spread[6] <= 0.41
    window = full.sql("""
        with last_15 as (
          select * from nba_analytics.team_defense_game_summary where game_date < date '2022-03-01'
          qualify row_number() over (partition by defending_team_abbr order by game_date desc) <= 15),
        league as (select sum(opp_paint_makes) / sum(opp_paint_attempts) lp, sum(opp_three_pt_makes) / sum(opp_three_pt_attempts) lt
                   from nba_analytics.team_defense_game_summary where game_date between date '2022-01-30' and date '2022-02-28')
        select min(p - lp), max(p - lp), min(t - lt), max(t - lt) from (
          select defending_team_abbr, sum(opp_paint_makes) / sum(opp_paint_attempts) p,
                 sum(opp_three_pt_makes) / sum(opp_three_pt_attempts) t from last_15 group by all), league""").fetchall()[0]
    assert window[0] <= -0.025 and window[1] >= 0.025 and window[2] <= -0.02 and window[3] >= 0.02
    assert max(abs(v) for v in window) <= 0.12


def test_players_differ_widely(full):
    pct = full.sql(f"""
        with players as (
          select player_lookup, count(*) games, sum(fg_attempts) fga, sum(paint_attempts) pa,
                 sum(mid_range_attempts) ma, sum(three_pt_attempts) ta
          from ({REGULAR_PLAYERS}) where minutes_played > 0 group by player_lookup
          having count(*) >= 20 and sum(fg_attempts) >= 5 * count(*))
        select quantile_cont(pa / fga, [0.1, 0.9]), quantile_cont(ta / fga, [0.1, 0.9]),
               quantile_cont(ma / fga, [0.1, 0.9]), quantile_cont(fga / games, [0.1, 0.9]), count(*)
        from players""").fetchall()[0]
    (paint_lo, paint_hi), (three_lo, three_hi), (mid_lo, mid_hi), (fga_lo, fga_hi), players = pct
    assert 0.20 <= paint_lo <= 0.36 and 0.68 <= paint_hi <= 0.84
    assert 0.08 <= three_lo <= 0.20 and 0.55 <= three_hi <= 0.70
    assert 0.01 <= mid_lo <= 0.07 and 0.15 <= mid_hi <= 0.26
    assert 4.5 <= fga_lo <= 7.0 and 15.0 <= fga_hi <= 20.0
    assert 180 <= players <= 330


def test_team_scoring_pace_ratings_and_records(full):
    teams = full.sql("""select avg(points_scored), avg(pace), avg(offensive_rating), count(*) filter (where win_flag)
                        from nba_analytics.team_offense_game_summary o join nba_raw.nbac_schedule s using (game_id)
                        where s.is_regular_season group by team_abbr""").fetchall()
    points, pace, rating, wins = zip(*teams)
    assert 105 <= sum(points) / 30 <= 120 and 95 <= sum(pace) / 30 <= 102
    assert min(pace) >= 93 and max(pace) <= 106 and min(rating) >= 100 and max(rating) <= 125
    assert sum(wins) == 1230 and max(wins) - min(wins) >= 15


def test_minutes_by_role_shape(full):
    tops = full.sql("""
        with averages as (
          select team_abbr, player_lookup, avg(minutes_played) m from nba_analytics.player_game_summary
          where minutes_played > 0 group by all having count(*) >= 30),
        ranked as (select *, row_number() over (partition by team_abbr order by m desc) r from averages)
        select avg(m) filter (where r = 1), avg(m) filter (where r between 3 and 5),
               avg(m) filter (where r between 6 and 9) from ranked""").fetchall()[0]
    assert 32 <= tops[0] <= 38 and 26 <= tops[1] <= 33 and 15 <= tops[2] <= 24
    bench = scalar(full, """select avg(case when minutes_played = 0 then 1.0 else 0 end) from nba_analytics.player_game_summary""")
    assert 0.15 <= bench <= 0.40


def test_names_ages_and_ids(full):
    assert count(full, """select 1 from nba_analytics.player_game_summary
        where not regexp_full_match(player_lookup, '[a-z]+') or universal_player_id != player_lookup || '_001'""") == 0
    ages = full.sql("select min(player_age), max(player_age) from nba_analytics.upcoming_player_game_context").fetchall()[0]
    assert 19 <= ages[0] and ages[1] <= 40


def test_trades_move_players_between_teams(full):
    moves = full.sql("""
        select player_lookup, arg_min(team_abbr, game_date) first_team, arg_max(team_abbr, game_date) last_team
        from nba_analytics.player_game_summary group by player_lookup having count(distinct team_abbr) > 1""").fetchall()
    assert 4 <= len(moves) <= 40
    assert count(full, """select player_lookup from (
        select player_lookup, team_abbr, min(game_date) a, max(game_date) b from nba_analytics.player_game_summary group by all)
        group by player_lookup having count(*) > 2""") == 0
    assert count(full, """select 1 from (
        select player_lookup, team_abbr, min(game_date) a, max(game_date) b from nba_analytics.player_game_summary group by all) x
        join (select player_lookup, team_abbr, min(game_date) a, max(game_date) b from nba_analytics.player_game_summary group by all) y
        on x.player_lookup = y.player_lookup and x.team_abbr < y.team_abbr and x.a <= y.b and y.a <= x.b""") == 0


# --- upcoming contexts ---------------------------------------------------------------------------

def test_player_context_rows_are_the_rostered_players(db):
    pgs = "select player_lookup, game_id, team_abbr, opponent_team_abbr from nba_analytics.player_game_summary"
    ctx = f"""select player_lookup, game_id, team_abbr, opponent_team_abbr from nba_analytics.upcoming_player_game_context
              where game_date in (select game_date from nba_analytics.player_game_summary)"""
    assert count(db, f"({pgs}) except ({ctx})") == 0 and count(db, f"({ctx}) except ({pgs})") == 0


def test_every_status_occurs_and_out_players_sit(db):
    statuses = {s for (s,) in db.sql("select distinct player_status from nba_analytics.upcoming_player_game_context").fetchall()}
    assert statuses == {"available", "probable", "questionable", "doubtful", "out"}
    joined = """select c.player_status, p.is_active, p.minutes_played from nba_analytics.upcoming_player_game_context c
                join nba_analytics.player_game_summary p using (player_lookup, game_id)"""
    assert count(db, f"select 1 from ({joined}) where player_status = 'out' and (is_active or minutes_played > 0)") == 0
    assert count(db, f"select 1 from ({joined}) where player_status = 'doubtful' and not is_active") > 0
    assert count(db, f"select 1 from ({joined}) where player_status = 'available' and not is_active") == 0


def test_rest_days_and_back_to_backs(db):
    assert count(db, f"""
        with rest as (
          select team, game_id, coalesce(game_date - lag(game_date) over (partition by team order by game_date) - 1, 3) days_rest
          from ({TEAM_GAMES}))
        select 1 from nba_analytics.upcoming_player_game_context c
        join rest r on r.game_id = c.game_id and r.team = c.team_abbr
        join rest o on o.game_id = c.game_id and o.team = c.opponent_team_abbr
        where c.days_rest != r.days_rest or c.opponent_days_rest != o.days_rest or c.back_to_back != (r.days_rest = 0)""") == 0
    assert count(db, """select 1 from nba_analytics.upcoming_player_game_context c join nba_raw.nbac_schedule s using (game_id)
                        where c.home_game != (c.team_abbr = s.home_team_tricode)""") == 0
    assert scalar(db, "select max(back_to_backs_last_14_days) from nba_analytics.upcoming_player_game_context") in (2, 3, 4)


def test_workload_windows_match_prior_games(db):
    assert count(db, """
        select 1 from nba_analytics.upcoming_player_game_context c,
        lateral (select count(*) filter (where p.game_date >= c.game_date - 7) g7, count(*) g14,
                        coalesce(sum(p.minutes_played) filter (where p.game_date >= c.game_date - 7), 0) m7,
                        coalesce(sum(p.minutes_played), 0) m14
                 from nba_analytics.player_game_summary p
                 where p.player_lookup = c.player_lookup and p.minutes_played > 0
                   and p.game_date >= c.game_date - 14 and p.game_date < c.game_date) w
        where c.games_in_last_7_days != w.g7 or c.games_in_last_14_days != w.g14
           or abs(c.minutes_in_last_7_days - w.m7) > 0.51 or abs(c.minutes_in_last_14_days - w.m14) > 0.51
           or abs(c.avg_minutes_per_game_last_7 - case when w.g7 = 0 then 0 else w.m7 / w.g7 end) > 0.051""") == 0
    ratio = scalar(db, """select sum(fourth_quarter_minutes_last_7) / sum(minutes_in_last_7_days)
                          from nba_analytics.upcoming_player_game_context""")
    assert 0.2 <= ratio <= 0.3
    assert count(db, "select 1 from nba_analytics.upcoming_player_game_context where fourth_quarter_minutes_last_7 > minutes_in_last_7_days") == 0


def test_usage_pace_and_phase_defaults_and_history(db):
    opening = db.sql("""select min(opponent_pace_last_10), max(opponent_pace_last_10), max(abs(pace_differential)),
                               min(games_in_last_7_days + minutes_in_last_14_days), max(games_in_last_14_days)
                        from nba_analytics.upcoming_player_game_context where game_date = date '2021-10-19'""").fetchall()[0]
    assert opening == (100.0, 100.0, 0.0, 0, 0)
    assert count(db, """select 1 from nba_analytics.upcoming_player_game_context c join nba_raw.nbac_schedule s using (game_id)
        where c.season_phase != case when s.is_playoffs then 'playoffs'
                                     when c.game_date < date '2021-10-19' + 30 then 'early'
                                     when c.game_date >= date '2022-03-01' then 'late' else 'mid' end""") == 0
    assert count(db, f"""
        with pace10 as (
          select c.player_lookup, c.game_id, c.opponent_pace_last_10,
                 (select avg(pace) from (select pace from nba_analytics.team_offense_game_summary o
                   where o.team_abbr = c.opponent_team_abbr and o.game_date < c.game_date
                   order by o.game_date desc limit 10)) expected
          from nba_analytics.upcoming_player_game_context c where c.game_date = date '2021-11-20')
        select 1 from pace10 where abs(opponent_pace_last_10 - expected) > 0.11""") == 0
    usage = db.sql("""select min(projected_usage_rate), max(projected_usage_rate), min(avg_usage_rate_last_7_games),
                             max(avg_usage_rate_last_7_games), max(star_teammates_out)
                      from nba_analytics.upcoming_player_game_context""").fetchall()[0]
    assert 0 < usage[0] and usage[1] <= 60 and 0 <= usage[2] and usage[3] <= 100 and usage[4] in (1, 2, 3)


def test_prop_lines(db):
    lines = db.sql("""select avg(case when has_prop_line then 1.0 else 0 end) filter (where avg_minutes_per_game_last_7 >= 24),
                             count(*) filter (where current_points_line - floor(current_points_line) != 0.5),
                             count(*) filter (where has_prop_line and player_status = 'out'),
                             max(current_points_line)
                      from nba_analytics.upcoming_player_game_context""").fetchall()[0]
    # the highest lines price the simulation's playoff stars (up to 48 minutes with a star teammate out)
    assert lines[0] >= 0.75 and lines[1] == 0 and lines[2] == 0 and 20 <= lines[3] <= 50
    close = scalar(db, """select corr(c.current_points_line, p.points) from nba_analytics.upcoming_player_game_context c
                          join nba_analytics.player_game_summary p using (player_lookup, game_id) where p.minutes_played > 0""")
    assert close > 0.5


# --- prop lines as a book sets them, and the snapshots per book --------------------------------

PROPS = "nba_raw.odds_api_player_points_props"
PREFERRED_BOOK = "draftkings"

# What the snapshots imply for each (player, game): the preferred book's latest snapshot before tip-off,
# else the latest one of any book, ties by book name (written here independently of the generator).
IMPLIED_LINES = f"""
    select player_lookup, game_id, points_line as implied_line
    from {PROPS}
    where minutes_before_tipoff >= 0
    qualify row_number() over (partition by player_lookup, game_id
                               order by bookmaker != '{PREFERRED_BOOK}', minutes_before_tipoff, bookmaker) = 1"""

# Line MAE, the MAE of three simple averages and the hit rate of "last-10 average vs line", on the rows
# with a line whose game is final and played. The averages only read the player's played games before
# the date: last 5 and last 10 (any season), season average (this season); rows need one such game.
LINE_FIGURES = """
    with played as (
      select player_lookup, game_id, game_date, season_year, points::double as points
      from nba_analytics.player_game_summary where is_active and (minutes_played > 0 or points > 0)),
    history as (
      select *,
        avg(points) over (partition by player_lookup order by game_date rows between 5 preceding and 1 preceding) as last_5,
        avg(points) over (partition by player_lookup order by game_date rows between 10 preceding and 1 preceding) as last_10,
        avg(points) over (partition by player_lookup, season_year order by game_date
                          rows between unbounded preceding and 1 preceding) as season_avg
      from played),
    measured as (
      select h.*, c.current_points_line as line
      from history h join nba_analytics.upcoming_player_game_context c using (player_lookup, game_id)
      where c.has_prop_line and h.season_avg is not null)
    select count(*) as line_rows, avg(abs(line - points)) as mae_line, avg(abs(last_5 - points)) as mae_last_5,
           avg(abs(last_10 - points)) as mae_last_10, avg(abs(season_avg - points)) as mae_season_avg,
           avg(case when (last_10 > line) = (points > line) then 1.0 else 0.0 end)
             filter (where last_10 != line and points != line) as hit_rate_last_10_vs_line
    from measured"""


def line_figures(con) -> dict:
    frame = con.sql(LINE_FIGURES).df()
    return {name: frame[name][0] for name in frame.columns}


@pytest.fixture(scope="module")
def four_seasons(workdir):
    path = generate(workdir / "four.duckdb", "--seasons", "4", "--seed", "42")
    with duckdb.connect(str(path), read_only=True) as con:
        yield con


@pytest.mark.parametrize("data", ["four_seasons", "sliced"])
def test_lines_beat_every_simple_average_and_last_10_does_not_beat_the_line(request, data):
    """A book's line beats every simple average by at least 0.2 points of MAE, in the range of real
    books (4.5-5.5), and "last-10 average vs line" wins no more than a coin flip (break-even at -110
    is 52.4%). The old generator (line = season average at the half point) failed both."""
    figures = line_figures(request.getfixturevalue(data))
    assert figures["line_rows"] > 4000, figures
    assert 4.5 <= figures["mae_line"] <= 5.5, figures
    for average in ("mae_last_5", "mae_last_10", "mae_season_avg"):
        assert figures["mae_line"] <= figures[average] - 0.2, (average, figures)
    assert 0.48 <= figures["hit_rate_last_10_vs_line"] <= 0.52, figures


def test_context_line_is_what_the_snapshots_imply(db):
    rows = db.sql(f"""
        select count(*) filter (where c.has_prop_line != (i.implied_line is not null)),
               count(*) filter (where c.has_prop_line and c.current_points_line != i.implied_line),
               count(*) filter (where c.has_prop_line),
               count(*) filter (where c.has_prop_line and i.implied_line is not null and not exists (
                   select 1 from {PROPS} p where p.player_lookup = c.player_lookup and p.game_id = c.game_id
                   and p.bookmaker = '{PREFERRED_BOOK}' and p.minutes_before_tipoff >= 0))
        from nba_analytics.upcoming_player_game_context c left join ({IMPLIED_LINES}) i using (player_lookup, game_id)
    """).fetchall()[0]
    assert rows[0] == 0 and rows[1] == 0
    assert rows[2] > 3000 and rows[3] > 0  # some lines come from another book than the preferred one
    # every snapshot belongs to a context row of a player expected to play
    assert count(db, f"""select 1 from {PROPS} p left join nba_analytics.upcoming_player_game_context c
                         using (player_lookup, game_id, game_date)
                         where c.player_lookup is null or c.player_status in ('out', 'doubtful')""") == 0


def test_snapshots_open_the_day_before_move_and_continue_after_tipoff(db):
    assert count(db, f"""select 1 from {PROPS}
        where snapshot_timestamp != game_date + interval 1 day - minutes_before_tipoff * interval 1 minute
           or processed_at != snapshot_timestamp + interval 2 minute or created_at != processed_at
           or points_line <= 0 or points_line - floor(points_line) != 0.5
           or over_price not between -130 and -90 or under_price not between -130 and -90""") == 0
    per_market = db.sql(f"""
        with books as (
          select game_id, player_lookup, bookmaker,
                 arg_max(points_line, minutes_before_tipoff) filter (where minutes_before_tipoff >= 0) as opening,
                 arg_min(points_line, minutes_before_tipoff) filter (where minutes_before_tipoff >= 0) as closing,
                 max(minutes_before_tipoff) as first_scrape, min(minutes_before_tipoff) as last_scrape,
                 count(*) filter (where minutes_before_tipoff >= 0) as scrapes
          from {PROPS} group by all)
        select avg(case when opening != closing then 1.0 else 0 end), avg(case when first_scrape >= 24 * 60 then 1.0 else 0 end),
               avg(case when last_scrape < 0 then 1.0 else 0 end), min(scrapes), max(scrapes),
               count(*) / count(distinct (game_id, player_lookup)), count(distinct bookmaker)
        from books""").fetchall()[0]
    moved, opened_day_before, after_tipoff, fewest, most, books_per_market, books = per_market
    assert 0.3 <= moved <= 0.9 and 0.6 <= opened_day_before <= 0.95 and 0.3 <= after_tipoff <= 0.8
    assert fewest >= 1 and most >= 3 and 2.5 <= books_per_market <= 4 and books == 4
    # the in-game lines exist only for final games
    assert count(db, f"""select 1 from {PROPS} p join nba_raw.nbac_schedule s using (game_id)
                         where p.minutes_before_tipoff < 0 and s.game_status != 3""") == 0
    # each slate's opening lines are loaded the afternoon before it (before its nightly run): the
    # freshness of the table follows the slates like the upcoming context's
    assert count(db, f"""select game_date from {PROPS} group by game_date
                         having min(processed_at) > game_date + interval 6 hour""") == 0


def test_team_context_lines(db):
    assert count(db, """select game_id from nba_analytics.upcoming_team_game_context group by game_id
        having count(*) != 2 or sum(game_spread) != 0 or min(game_spread) >= 0 or count(distinct game_total) != 1
        or count(*) filter (where home_game) != 1""") == 0
    totals = db.sql("select min(game_total), max(game_total), avg(game_total), max(abs(game_spread)) from nba_analytics.upcoming_team_game_context").fetchall()[0]
    assert 195 <= totals[0] and totals[1] <= 250 and 210 <= totals[2] <= 235 and totals[3] <= 25
    assert count(db, """select 1 from nba_analytics.upcoming_team_game_context t join nba_raw.nbac_schedule s using (game_id, season_year)
        where t.home_game != (t.team_abbr = s.home_team_tricode) or t.game_date != s.game_date""") == 0


def test_production_ready_everywhere(db):
    for table in ("upcoming_player_game_context", "upcoming_team_game_context"):
        assert count(db, f"select 1 from nba_analytics.{table} where not is_production_ready") == 0


# --- command line --------------------------------------------------------------------------------

@pytest.mark.parametrize("args, names", [
    (["--seasons", "0"], "--seasons"),
    (["--seasons", "-2"], "--seasons"),
    (["--start-season", "2020"], "--start-season"),
    (["--start-season", "2025"], "--start-season"),
    (["--start-season", "2023", "--seasons", "3"], "past"),
    (["--until", "2021-13-01"], "--until"),
    (["--until", "next week"], "--until"),
    (["--seasons", "two"], "--seasons"),
    (["--seed", "-1"], "--seed"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, names):
    result = run_cli("--db", str(tmp_path / "x.duckdb"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], result.stderr
    assert not (tmp_path / "x.duckdb").exists()


@pytest.mark.parametrize("kind", ["missing_dir", "directory", "not_duckdb", "no_db"])
def test_bad_database_paths_exit_2_with_one_line(tmp_path, kind):
    paths = {"missing_dir": tmp_path / "nope" / "x.duckdb", "directory": tmp_path, "not_duckdb": tmp_path / "notes.txt"}
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    args = [] if kind == "no_db" else ["--db", str(paths[kind])]
    result = run_cli(*args, "--seasons", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--db" in lines[0], result.stderr


def test_progress_and_summary_on_stderr(workdir):
    result = run_cli("--db", str(workdir / "progress.duckdb"), "--until", "2021-10-25")
    assert result.returncode == 0
    assert "season 2021" in result.stderr and "nba_analytics.player_game_summary" in result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert re.search(r"nba_raw\.nbac_schedule=\d+", summary) and summary.count("=") == len(TABLES)
