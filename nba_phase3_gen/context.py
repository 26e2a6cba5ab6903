"""Upcoming-game context: what was known before tip-off, per player and per team.

Derived from the schedule and from games strictly before the game date, within the season: rest,
back-to-backs, the player's recent workload and usage, teammates out, pace of both teams, injury
status and the points prop line (the books' line, see `book`). Team rows carry the betting total and spread. No column is NULL:
without history the league or role baseline is used.
"""

from datetime import date

import numpy as np
import pandas as pd

from .availability import OUT, STATUSES
from .rosters import STAR, age_on

LEAGUE_PACE = 100.0
LEAGUE_POINTS = 112.0
LINE_PRIOR_GAMES = 5
MAX_SPREAD = 20.0
FIRST_GAME_REST = 3
ROLE_USAGE = np.array([30.0, 21.0, 17.5, 15.5])
ROLE_POINTS_LINE = np.array([24.5, 14.5, 8.5, 3.5])
STAR_OUT_USAGE_BOOST = 1.5
STRIDE = 10_000_000


def _keys(group: np.ndarray, day: np.ndarray) -> np.ndarray:
    return group.astype(np.int64) * STRIDE + day


class History:
    """Events (one per played game) of many groups, sorted by (group, day), with prefix sums for
    O(log n) window queries strictly before a day."""

    def __init__(self, group: np.ndarray, day: np.ndarray, values: dict):
        order = np.lexsort((day, group))
        self.keys = _keys(group[order], day[order])
        self.sums = {name: np.r_[0.0, np.cumsum(np.asarray(v, dtype=float)[order])] for name, v in values.items()}

    def _bounds(self, group, day, days_back):
        hi = np.searchsorted(self.keys, _keys(group, day), side="left")
        first = np.searchsorted(self.keys, _keys(group, np.zeros_like(day)), side="left")
        lo = first if days_back is None else np.searchsorted(self.keys, _keys(group, day - days_back), side="left")
        return lo, hi, first

    def window(self, name, group, day, days_back=None) -> tuple:
        """(sum, count) of events in [day - days_back, day) (or all before day)."""
        lo, hi, _ = self._bounds(group, day, days_back)
        return self.sums[name][hi] - self.sums[name][lo], hi - lo

    def last(self, name, group, day, n) -> tuple:
        """(sum, count) of the group's last n events before day."""
        _, hi, first = self._bounds(group, day, None)
        lo = np.maximum(first, hi - n)
        return self.sums[name][hi] - self.sums[name][lo], hi - lo


def _whole(minutes: np.ndarray) -> np.ndarray:
    """Non-negative minutes rounded half up to whole minutes (sums of 1-dp values, so add a hair)."""
    return np.floor(minutes + 0.5 + 1e-9).astype(int)


def _mean(total, count, default):
    return np.where(count > 0, total / np.maximum(count, 1), default)


def team_schedule(games: pd.DataFrame) -> pd.DataFrame:
    """One row per team per game with rest days and back-to-backs in the last 14 days."""
    long = pd.concat([
        pd.DataFrame({"game_id": games.game_id, "day": games.day, "team": games.home, "opponent": games.away, "home_game": True}),
        pd.DataFrame({"game_id": games.game_id, "day": games.day, "team": games.away, "opponent": games.home, "home_game": False}),
    ]).sort_values(["team", "day"], ignore_index=True)
    gap = long.groupby("team").day.diff()
    long["days_rest"] = (gap - 1).fillna(FIRST_GAME_REST).astype(int)
    long["team_code"] = long.team.astype("category").cat.codes.to_numpy()
    b2b = History(long.team_code.to_numpy(), long.day.to_numpy(), {"b2b": long.days_rest == 0})
    long["back_to_backs_last_14_days"] = b2b.window("b2b", long.team_code.to_numpy(), long.day.to_numpy(), 14)[0].astype(int)
    opponent_rest = long[["game_id", "team", "days_rest"]].rename(
        columns={"team": "opponent", "days_rest": "opponent_days_rest"})
    return long.merge(opponent_rest, on=["game_id", "opponent"], how="left")


def season_phase(day: np.ndarray, is_playoffs: np.ndarray, season_year: int, opening: date) -> np.ndarray:
    """early (< 30 days into the season), mid, late (from March 1), playoffs."""
    march = date(season_year + 1, 3, 1).toordinal()
    phase = np.where(day < opening.toordinal() + 30, "early", np.where(day >= march, "late", "mid"))
    return np.where(is_playoffs, "playoffs", phase)


class TeamHistory(History):
    """History of team games keyed by tricode."""

    def __init__(self, team_games: pd.DataFrame, values: dict):
        self.codes = {t: i for i, t in enumerate(sorted(team_games.team.unique()))}
        super().__init__(self.code(team_games.team), team_games.day.to_numpy(), values)

    def code(self, teams) -> np.ndarray:
        return np.array([self.codes[t] for t in teams])

    def recent_mean(self, name, teams, day, n: int, prior: float, prior_games: float = 0.0) -> np.ndarray:
        """Mean over the last n games before day, shrunk towards `prior` (which it is without games)."""
        total, count = self.last(name, self.code(teams), day, n)
        return _mean(total + prior_games * prior, count + prior_games, prior)


def _star_teammates_out(rows: pd.DataFrame) -> np.ndarray:
    star_out = (rows.role.to_numpy() == STAR) & (rows.status.to_numpy() == OUT)
    per_team_game = pd.Series(star_out).groupby([rows.game_id.to_numpy(), rows.team.to_numpy()]).transform("sum")
    return per_team_game.to_numpy() - star_out


def player_context(season, pool: pd.DataFrame, opening: date, lines: tuple) -> pd.DataFrame:
    """One context row per player-game row of the season (rostered players, injured ones included).
    `lines` = (has_prop_line, line) per row, as the books' snapshots imply (`book.context_lines`);
    players without a line carry their role's baseline line."""
    rows = season.player_games
    player, day = rows.player.to_numpy(), rows.day.to_numpy()
    team_rows = rows[["game_id", "team"]].merge(team_schedule(season.games), on=["game_id", "team"], how="left")
    played = rows[rows.minutes_played > 0]
    history = History(played.player.to_numpy(), played.day.to_numpy(), {
        "minutes": played.minutes_played, "q4": played.fourth_quarter_minutes,
        "usage": played.usage_rate})
    minutes_7, games_7 = history.window("minutes", player, day, 7)
    minutes_14, games_14 = history.window("minutes", player, day, 14)
    usage_7, usage_n = history.last("usage", player, day, 7)
    role_usage = ROLE_USAGE[rows.role.to_numpy()]
    avg_usage = _mean(usage_7, usage_n, role_usage)
    stars_out = _star_teammates_out(rows)
    paces = TeamHistory(season.team_games, {"pace": season.team_games.pace})
    team_pace = paces.recent_mean("pace", rows.team, day, 10, LEAGUE_PACE)
    opponent_pace = paces.recent_mean("pace", rows.opponent, day, 10, LEAGUE_PACE)
    has_line, line = lines
    return pd.DataFrame({
        "player_lookup": pool.player_lookup.to_numpy()[player],
        "universal_player_id": pool.universal_player_id.to_numpy()[player],
        "game_id": rows.game_id.to_numpy(), "day": day,
        "team_abbr": rows.team.to_numpy(), "opponent_team_abbr": rows.opponent.to_numpy(),
        "home_game": team_rows.home_game.to_numpy(),
        "back_to_back": team_rows.days_rest.to_numpy() == 0,
        "season_phase": season_phase(day, rows.is_playoffs.to_numpy(), season.season_year, opening),
        "days_rest": team_rows.days_rest.to_numpy(),
        "opponent_days_rest": team_rows.opponent_days_rest.to_numpy(),
        "games_in_last_7_days": games_7, "games_in_last_14_days": games_14,
        "minutes_in_last_7_days": _whole(minutes_7),
        "minutes_in_last_14_days": _whole(minutes_14),
        "avg_minutes_per_game_last_7": _mean(minutes_7, games_7, 0.0),
        "back_to_backs_last_14_days": team_rows.back_to_backs_last_14_days.to_numpy(),
        "fourth_quarter_minutes_last_7": _whole(history.window("q4", player, day, 7)[0]),
        "player_age": _ages(pool, player, day),
        "projected_usage_rate": 0.7 * avg_usage + 0.3 * role_usage + STAR_OUT_USAGE_BOOST * stars_out,
        "avg_usage_rate_last_7_games": avg_usage,
        "star_teammates_out": stars_out,
        "pace_differential": team_pace - opponent_pace,
        "opponent_pace_last_10": opponent_pace,
        "player_status": np.array(STATUSES)[rows.status.to_numpy()],
        "has_prop_line": has_line,
        "current_points_line": np.where(has_line, line, ROLE_POINTS_LINE[rows.role.to_numpy()]),
    })


def _ages(pool: pd.DataFrame, player: np.ndarray, day: np.ndarray) -> np.ndarray:
    ages = np.empty(player.size, dtype=int)
    for d in np.unique(day):
        at = day == d
        ages[at] = age_on(pool.birth_date.to_numpy()[player[at]], date.fromordinal(int(d)))
    return ages


def team_context(rng, season) -> pd.DataFrame:
    """Two rows per game: the betting total and each side's spread, set from both teams' last ten
    games (points scored and allowed, shrunk towards the league average) plus home court."""
    games, team_games = season.games, season.team_games
    history = TeamHistory(team_games, {"for": team_games.points, "against": team_games.points - team_games.margin})
    day = games.day.to_numpy()

    def recent(teams, name):
        return history.recent_mean(name, teams, day, 10, LEAGUE_POINTS, LINE_PRIOR_GAMES)

    home = (recent(games.home, "for") + recent(games.away, "against")) / 2 + 1.5
    away = (recent(games.away, "for") + recent(games.home, "against")) / 2 - 1.5
    total = np.clip(home + away + rng.normal(0, 3, len(games)), 200, 240)
    home_spread = np.clip(-(home - away) + rng.normal(0, 1.5, len(games)), -MAX_SPREAD, MAX_SPREAD)
    home_spread = np.round(home_spread * 2) / 2
    home_spread = np.where(home_spread == 0, -0.5, home_spread)
    frame = pd.concat([
        pd.DataFrame({"team_abbr": games.home, "opponent_team_abbr": games.away, "home_game": True, "game_spread": home_spread}),
        pd.DataFrame({"team_abbr": games.away, "opponent_team_abbr": games.home, "home_game": False, "game_spread": -home_spread}),
    ])
    frame["game_id"] = np.tile(games.game_id.to_numpy(), 2)
    frame["day"] = np.tile(day, 2)
    frame["game_total"] = np.tile(np.round(total * 2) / 2, 2)
    return frame
