"""The seven output tables: their column contracts and how they are assembled from simulated seasons.

Column names and order follow models/staging/*/_*__sources.yml exactly. `data_hash`,
`processed_at` and `created_at` are added by the writer. The --until cut is applied here: games
before the cut are final with box scores; the cut's next slate (first game date on or after it)
gets context rows; later games are only scheduled.

Conventions worth knowing downstream:
- `ts_pct` is NULL exactly when the player had no field-goal and no free-throw attempt (every DNP
  row included): true shooting is undefined there, and 0.0 would drag averages down. It is the only
  NULL in the data. `usage_rate` is 0.0 for players who did not play.
- `pace` (team offence) is possessions per 48 minutes; `opponent_pace` (team defence) is the
  opponent's possessions (FGA + 0.44·FTA − ORB + TOV), the legacy definition. They are equal in
  regulation games and differ only after overtime. Ratings are 100·points / possessions.
- Timestamps are derived from game dates: box scores and final schedule rows are processed the
  morning after the game (08:00 plus one minute per game of the night), contexts at 18:00 the day
  before the game, scheduled schedule rows at 18:00 the day before the cut; created_at = processed_at.
- Prop-line snapshots (`book`): one row per book, player, game and scrape; tip-off is taken as 00:00
  the day after the game date, a scrape's snapshot_timestamp is tip-off minus minutes_before_tipoff
  and it is processed two minutes later. Final games keep every scrape (the in-game ones, with
  minutes_before_tipoff < 0, included); the cut's next slate keeps the scrapes before tip-off. The
  context's has_prop_line and current_points_line are what these rows imply (`book.context_lines`).
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import book
from .context import player_context, team_context
from .league import SEASONS
from .rng import stream

EPOCH = date(1970, 1, 1).toordinal()
GAME_PROCESSED_HOUR = 8    # box scores processed the morning after the game
CONTEXT_PROCESSED_HOUR = 18  # contexts processed the evening before the game
TIPOFF_HOUR = 24           # prop-line scrapes are timed from tip-off, 00:00 the day after the game date
SCRAPE_LOAD_MINUTES = 2    # a scrape is loaded two minutes after it is taken


@dataclass(frozen=True)
class Table:
    """A table contract: schema, name, ordered (column, DuckDB type) pairs and the row order."""

    schema: str
    name: str
    columns: tuple
    order_by: tuple

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _cols(spec: str) -> tuple:
    """'name:TYPE name:TYPE ...' -> ((name, TYPE), ...)."""
    return tuple(tuple(item.split(":")) for item in spec.split())


SCHEDULE = Table("nba_raw", "nbac_schedule", _cols(
    "game_id:VARCHAR game_date:DATE season_year:BIGINT game_status:BIGINT is_regular_season:BOOLEAN "
    "is_playoffs:BOOLEAN home_team_tricode:VARCHAR away_team_tricode:VARCHAR"), ("game_date", "game_id"))

PLAYER_GAME_SUMMARY = Table("nba_analytics", "player_game_summary", _cols(
    "player_lookup:VARCHAR universal_player_id:VARCHAR game_id:VARCHAR game_date:DATE team_abbr:VARCHAR "
    "opponent_team_abbr:VARCHAR season_year:BIGINT is_active:BOOLEAN minutes_played:DOUBLE points:BIGINT "
    "fg_attempts:BIGINT fg_makes:BIGINT three_pt_attempts:BIGINT three_pt_makes:BIGINT ft_makes:BIGINT "
    "paint_attempts:BIGINT paint_makes:BIGINT mid_range_attempts:BIGINT mid_range_makes:BIGINT "
    "assisted_fg_makes:BIGINT unassisted_fg_makes:BIGINT usage_rate:DOUBLE ts_pct:DOUBLE"),
    ("game_date", "game_id", "team_abbr", "player_lookup"))

TEAM_OFFENSE = Table("nba_analytics", "team_offense_game_summary", _cols(
    "game_id:VARCHAR game_date:DATE team_abbr:VARCHAR opponent_team_abbr:VARCHAR season_year:BIGINT "
    "home_game:BOOLEAN points_scored:BIGINT pace:DOUBLE offensive_rating:DOUBLE win_flag:BOOLEAN"),
    ("game_date", "game_id", "team_abbr"))

TEAM_DEFENSE = Table("nba_analytics", "team_defense_game_summary", _cols(
    "game_id:VARCHAR game_date:DATE defending_team_abbr:VARCHAR opponent_team_abbr:VARCHAR "
    "season_year:BIGINT points_allowed:BIGINT opp_paint_attempts:BIGINT opp_paint_makes:BIGINT "
    "opp_mid_range_attempts:BIGINT opp_mid_range_makes:BIGINT opp_three_pt_attempts:BIGINT "
    "opp_three_pt_makes:BIGINT points_in_paint_allowed:BIGINT mid_range_points_allowed:BIGINT "
    "three_pt_points_allowed:BIGINT blocks_paint:BIGINT blocks_mid_range:BIGINT blocks_three_pt:BIGINT "
    "defensive_rating:DOUBLE opponent_pace:DOUBLE"), ("game_date", "game_id", "defending_team_abbr"))

PLAYER_CONTEXT = Table("nba_analytics", "upcoming_player_game_context", _cols(
    "player_lookup:VARCHAR universal_player_id:VARCHAR game_id:VARCHAR game_date:DATE team_abbr:VARCHAR "
    "opponent_team_abbr:VARCHAR home_game:BOOLEAN back_to_back:BOOLEAN season_phase:VARCHAR "
    "days_rest:BIGINT opponent_days_rest:BIGINT games_in_last_7_days:BIGINT games_in_last_14_days:BIGINT "
    "minutes_in_last_7_days:BIGINT minutes_in_last_14_days:BIGINT avg_minutes_per_game_last_7:DOUBLE "
    "back_to_backs_last_14_days:BIGINT fourth_quarter_minutes_last_7:BIGINT player_age:BIGINT "
    "projected_usage_rate:DOUBLE avg_usage_rate_last_7_games:DOUBLE star_teammates_out:BIGINT "
    "pace_differential:DOUBLE opponent_pace_last_10:DOUBLE player_status:VARCHAR has_prop_line:BOOLEAN "
    "current_points_line:DOUBLE is_production_ready:BOOLEAN"), ("game_date", "game_id", "team_abbr", "player_lookup"))

TEAM_CONTEXT = Table("nba_analytics", "upcoming_team_game_context", _cols(
    "team_abbr:VARCHAR game_id:VARCHAR game_date:DATE season_year:BIGINT opponent_team_abbr:VARCHAR "
    "home_game:BOOLEAN game_total:DOUBLE game_spread:DOUBLE is_production_ready:BOOLEAN"),
    ("game_date", "game_id", "team_abbr"))

PROP_SNAPSHOTS = Table("nba_raw", "odds_api_player_points_props", _cols(
    "game_id:VARCHAR game_date:DATE player_lookup:VARCHAR bookmaker:VARCHAR snapshot_timestamp:TIMESTAMP "
    "minutes_before_tipoff:BIGINT points_line:DOUBLE over_price:BIGINT under_price:BIGINT"),
    ("game_date", "game_id", "player_lookup", "bookmaker", "snapshot_timestamp"))

TABLES = (SCHEDULE, PLAYER_GAME_SUMMARY, TEAM_OFFENSE, TEAM_DEFENSE, PLAYER_CONTEXT, TEAM_CONTEXT, PROP_SNAPSHOTS)

ROUNDING = {
    "minutes_played": 1, "usage_rate": 2, "ts_pct": 3, "pace": 1, "offensive_rating": 2,
    "defensive_rating": 2, "opponent_pace": 1, "avg_minutes_per_game_last_7": 1,
    "projected_usage_rate": 2, "avg_usage_rate_last_7_games": 2, "pace_differential": 1,
    "opponent_pace_last_10": 1, "current_points_line": 1, "game_total": 1, "game_spread": 1, "points_line": 1,
}


@dataclass(frozen=True)
class Cut:
    """The --until cut: days (ordinals) before `until` are final; `next_slate` gets contexts too."""

    until: int | None
    next_slate: int | None

    def final(self, day) -> np.ndarray:
        return np.full(len(day), True) if self.until is None else np.asarray(day) < self.until

    def has_context(self, day) -> np.ndarray:
        return self.final(day) | (np.asarray(day) == self.next_slate)


def make_cut(until: date | None, seasons: list) -> Cut:
    """The cut for `until` over the generated seasons (next slate = first game date on or after it)."""
    if until is None:
        return Cut(None, None)
    days = np.concatenate([s.games.day.to_numpy() for s in seasons])
    later = days[days >= until.toordinal()]
    return Cut(until.toordinal(), int(later.min()) if later.size else None)


def round_half_away(values, digits: int) -> np.ndarray:
    """Round half away from zero (NaN stays NaN)."""
    scale = 10.0 ** digits
    values = np.asarray(values, dtype=float)
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale


def _dates(day) -> np.ndarray:
    return (np.asarray(day, dtype=np.int64) - EPOCH).astype("datetime64[D]")


def _stamp(day, hour: int, minutes=0) -> np.ndarray:
    return (_dates(day).astype("datetime64[m]") + np.timedelta64(hour * 60, "m")
            + np.asarray(minutes, dtype="timedelta64[m]"))


def _finish(frame: pd.DataFrame, table: Table, processed_at: np.ndarray) -> pd.DataFrame:
    """Round, keep exactly the contract's columns, and add processed_at = created_at."""
    for column, digits in ROUNDING.items():
        if column in frame:
            frame[column] = round_half_away(frame[column], digits)
    frame = frame[[c for c, _ in table.columns]].copy()
    frame["processed_at"] = processed_at
    frame["created_at"] = processed_at
    return frame


def _game_stamps(games: pd.DataFrame, day: np.ndarray, game_ids) -> np.ndarray:
    """Morning after the game, one minute apart per game of the night (in game_id order)."""
    ordered = games.sort_values(["day", "game_id"])
    slot = pd.Series(ordered.groupby("day").cumcount().to_numpy(), index=ordered.game_id.to_numpy())
    minutes = pd.Series(np.asarray(game_ids)).map(slot).to_numpy()
    return _stamp(np.asarray(day) + 1, GAME_PROCESSED_HOUR, minutes)


def schedule_frame(season, cut: Cut) -> pd.DataFrame:
    games = season.games
    final = cut.final(games.day)
    frame = pd.DataFrame({
        "game_id": games.game_id.to_numpy(), "game_date": _dates(games.day),
        "season_year": season.season_year, "game_status": np.where(final, 3, 1),
        "is_regular_season": ~games.is_playoffs.to_numpy(), "is_playoffs": games.is_playoffs.to_numpy(),
        "home_team_tricode": games.home.to_numpy(), "away_team_tricode": games.away.to_numpy(),
    })
    scheduled_stamp = _stamp(np.full(len(games), (cut.until or 0) - 1), CONTEXT_PROCESSED_HOUR)
    stamps = np.where(final, _game_stamps(games, games.day.to_numpy(), games.game_id), scheduled_stamp)
    return _finish(frame, SCHEDULE, stamps)


def player_game_frame(season, pool: pd.DataFrame, cut: Cut) -> pd.DataFrame:
    rows = season.player_games[cut.final(season.player_games.day)]
    shots = rows.fg_attempts + 0.44 * rows.ft_attempts
    frame = rows.assign(
        player_lookup=pool.player_lookup.to_numpy()[rows.player],
        universal_player_id=pool.universal_player_id.to_numpy()[rows.player],
        game_date=_dates(rows.day), team_abbr=rows.team, opponent_team_abbr=rows.opponent,
        season_year=season.season_year,
        ts_pct=np.where(shots > 0, rows.points / (2 * shots.where(shots > 0, 1)), np.nan),
    )
    return _finish(frame, PLAYER_GAME_SUMMARY, _game_stamps(season.games, rows.day.to_numpy(), rows.game_id))


def _team_rows(season, cut: Cut) -> pd.DataFrame:
    return season.team_games[cut.final(season.team_games.day)]


def team_offense_frame(season, cut: Cut) -> pd.DataFrame:
    team = _team_rows(season, cut)
    frame = team.assign(game_date=_dates(team.day), team_abbr=team.team, opponent_team_abbr=team.opponent,
                        season_year=season.season_year, points_scored=team.points)
    return _finish(frame, TEAM_OFFENSE, _game_stamps(season.games, team.day.to_numpy(), team.game_id))


def team_defense_frame(season, cut: Cut) -> pd.DataFrame:
    """Each team's defence is its opponent's offence in the same game (blocks are the defender's)."""
    offence = _team_rows(season, cut)
    frame = offence.assign(
        game_date=_dates(offence.day), defending_team_abbr=offence.opponent, opponent_team_abbr=offence.team,
        season_year=season.season_year, points_allowed=offence.points,
        opp_paint_attempts=offence.paint_attempts, opp_paint_makes=offence.paint_makes,
        opp_mid_range_attempts=offence.mid_range_attempts, opp_mid_range_makes=offence.mid_range_makes,
        opp_three_pt_attempts=offence.three_pt_attempts, opp_three_pt_makes=offence.three_pt_makes,
        points_in_paint_allowed=2 * offence.paint_makes, mid_range_points_allowed=2 * offence.mid_range_makes,
        three_pt_points_allowed=3 * offence.three_pt_makes,
        defensive_rating=100 * offence.points / offence.possessions, opponent_pace=offence.possessions,
    )
    return _finish(frame, TEAM_DEFENSE, _game_stamps(season.games, offence.day.to_numpy(), offence.game_id))


def player_context_frame(season, pool: pd.DataFrame, snaps: pd.DataFrame, cut: Cut) -> pd.DataFrame:
    lines = book.context_lines(snaps, len(season.player_games))
    context = player_context(season, pool, SEASONS[season.season_year].opening_night, lines)
    context = context[cut.has_context(context.day)]
    frame = context.assign(game_date=_dates(context.day), is_production_ready=True)
    return _finish(frame, PLAYER_CONTEXT, _stamp(context.day.to_numpy() - 1, CONTEXT_PROCESSED_HOUR))


def prop_snapshot_frame(season, pool: pd.DataFrame, snaps: pd.DataFrame, cut: Cut) -> pd.DataFrame:
    """Every scrape of final games; the scrapes before tip-off of the cut's next slate."""
    rows = season.player_games
    day = rows.day.to_numpy()[snaps.row.to_numpy()]
    keep = cut.final(day) | ((day == cut.next_slate) & (snaps.minutes_before_tipoff.to_numpy() >= 0))
    snaps, day = snaps[keep], day[keep]
    taken = _stamp(day, TIPOFF_HOUR, -snaps.minutes_before_tipoff.to_numpy())
    frame = snaps.assign(
        game_id=rows.game_id.to_numpy()[snaps.row.to_numpy()], game_date=_dates(day),
        player_lookup=pool.player_lookup.to_numpy()[rows.player.to_numpy()[snaps.row.to_numpy()]],
        snapshot_timestamp=taken)
    return _finish(frame, PROP_SNAPSHOTS, taken + np.timedelta64(SCRAPE_LOAD_MINUTES, "m"))


def team_context_frame(season, seed: int, cut: Cut) -> pd.DataFrame:
    context = team_context(stream(seed, season.season_year, "betting-lines"), season)
    context = context[cut.has_context(context.day)]
    frame = context.assign(game_date=_dates(context.day), season_year=season.season_year, is_production_ready=True)
    return _finish(frame, TEAM_CONTEXT, _stamp(context.day.to_numpy() - 1, CONTEXT_PROCESSED_HOUR))


def season_frames(season, pool: pd.DataFrame, seed: int, cut: Cut) -> dict:
    """The seven tables' rows for one season, keyed by Table."""
    snaps = book.snapshots(stream(seed, season.season_year, "prop-lines"), season.player_games, season.teams)
    return {
        SCHEDULE: schedule_frame(season, cut),
        PLAYER_GAME_SUMMARY: player_game_frame(season, pool, cut),
        TEAM_OFFENSE: team_offense_frame(season, cut),
        TEAM_DEFENSE: team_defense_frame(season, cut),
        PLAYER_CONTEXT: player_context_frame(season, pool, snaps, cut),
        TEAM_CONTEXT: team_context_frame(season, seed, cut),
        PROP_SNAPSHOTS: prop_snapshot_frame(season, pool, snaps, cut),
    }
