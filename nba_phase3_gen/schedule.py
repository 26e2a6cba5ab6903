"""Regular-season schedule: who plays whom (82 games per team) and on which night.

Matchups follow the NBA formula: 4 games against each division rival, 4 against six and 3 against
four of the other conference teams, 2 against every team of the other conference; every team has
41 home games. Nights are filled greedily, the teams furthest behind their pace first, with no
team playing twice on a date or three nights in a row, and back-to-backs only when needed.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd

from .league import DIVISIONS, TEAM_INDEX, SeasonCalendar

# relative number of games per weekday (Mon..Sun), as in real schedules (few on Thursdays)
WEEKDAY_WEIGHT = np.array([1.1, 0.95, 1.35, 0.55, 1.2, 1.05, 0.8])
BACK_TO_BACK_PENALTY = 0.45
BACK_TO_BACKS_PER_SEASON = 14
REMATCH_PENALTY = 0.6
OPENING_NIGHT_GAMES = 2


def _series(home: str, away: str, home_games: int, away_games: int) -> list:
    return [(home, away)] * home_games + [(away, home)] * away_games


def _conference_matchups(divisions: list) -> list:
    """Games within one conference: 16 division games and 36 other conference games per team.

    Division slots are rotated per season by the caller; the 3-game pairs are the offsets {0, 1}
    between each pair of divisions, which gives every team four 3-game opponents, hosting two of
    them twice.
    """
    games = []
    for div in divisions:
        for i, a in enumerate(div):
            for b in div[i + 1:]:
                games += _series(a, b, 2, 2)
    for x, y in ((0, 1), (0, 2), (1, 2)):
        for i, a in enumerate(divisions[x]):
            for j, b in enumerate(divisions[y]):
                offset = (j - i) % 5
                if offset == 0:
                    games += _series(a, b, 2, 1)
                elif offset == 1:
                    games += _series(b, a, 2, 1)
                else:
                    games += _series(a, b, 2, 2)
    return games


def regular_season_matchups(rng: np.random.Generator) -> list:
    """The 1,230 (home, away) pairs of a season; the 3-game opponents change from season to season."""
    conferences = []
    for divs in DIVISIONS.values():
        shuffled = [list(rng.permutation(list(teams))) for teams in divs.values()]
        conferences.append(shuffled)
    games = _conference_matchups(conferences[0]) + _conference_matchups(conferences[1])
    east = [t for d in conferences[0] for t in d]
    west = [t for d in conferences[1] for t in d]
    for a in east:
        for b in west:
            games += _series(a, b, 1, 1)
    return games


def game_days(calendar: SeasonCalendar) -> list:
    """Every date from opening night to the last regular-season day on which games may be played."""
    days, day = [], calendar.opening_night
    while day <= calendar.regular_season_end:
        if not calendar.is_no_game_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _games_tonight(rng, day_number: int, day: date, games_left: int, days_left: int) -> int:
    if day_number == 0:
        return OPENING_NIGHT_GAMES
    mean = games_left / days_left * WEEKDAY_WEIGHT[day.weekday()] / WEEKDAY_WEIGHT.mean()
    return int(np.clip(round(rng.normal(mean, 1.5)), 2, 15))


def assign_dates(matchups: list, calendar: SeasonCalendar, rng: np.random.Generator) -> list:
    """Greedy night-by-night assignment; returns one date per matchup (same order)."""
    home = np.array([TEAM_INDEX[h] for h, _ in matchups])
    away = np.array([TEAM_INDEX[a] for _, a in matchups])
    dates = [None] * len(matchups)
    unplayed = np.ones(len(matchups), dtype=bool)
    games_left = np.bincount(np.concatenate([home, away]), minlength=30).astype(float)
    last_played = np.full(30, -10)   # day index of each team's last game
    before_last = np.full(30, -10)
    last_met = {}
    back_to_backs = np.zeros(30)
    days = game_days(calendar)
    for n, day in enumerate(days):
        days_left = len(days) - n
        tonight = _games_tonight(rng, n, day, unplayed.sum(), days_left)
        ordinal = day.toordinal()
        yesterday = last_played == ordinal - 1
        blocked = yesterday & (before_last == ordinal - 2)
        urgency = (games_left / days_left) ** 2
        b2b_due = BACK_TO_BACKS_PER_SEASON * n / len(days)
        b2b_cost = BACK_TO_BACK_PENALTY * (1 + np.clip(back_to_backs - b2b_due, -1, 3)) * yesterday
        idx = np.flatnonzero(unplayed)
        h, a = home[idx], away[idx]
        rematch = np.array([ordinal - last_met.get((min(x, y), max(x, y)), -99) < 10
                            for x, y in zip(h, a)], dtype=float)
        score = (urgency[h] + urgency[a] + rng.normal(0, 0.08, idx.size)
                 - b2b_cost[h] - b2b_cost[a]
                 - REMATCH_PENALTY * rematch)
        score[blocked[h] | blocked[a]] = -np.inf
        busy = set()
        for k in np.argsort(-score, kind="stable"):
            if len(busy) >= 2 * tonight or not np.isfinite(score[k]):
                break
            x, y = h[k], a[k]
            if x in busy or y in busy:
                continue
            busy.update((x, y))
            g = idx[k]
            dates[g] = day
            unplayed[g] = False
            games_left[[x, y]] -= 1
            back_to_backs[[x, y]] += yesterday[[x, y]]
            before_last[[x, y]] = last_played[[x, y]]
            last_played[[x, y]] = ordinal
            last_met[(min(x, y), max(x, y))] = ordinal
    for g in np.flatnonzero(unplayed):
        dates[g] = _free_night(dates, home, away, g, days)
    return dates


def _free_night(dates: list, home: np.ndarray, away: np.ndarray, g: int, days: list) -> date:
    """A night for a game the greedy pass left over: the latest night both teams are free, preferring
    nights that create no back-to-back."""
    teams = {home[g], away[g]}
    busy = {d for d, h, a in zip(dates, home, away) if d is not None and (h in teams or a in teams)}
    free = [d for d in days if d not in busy]
    rested = [d for d in free
              if d - timedelta(days=1) not in busy and d + timedelta(days=1) not in busy]
    return (rested or free)[-1]


def game_id(day: date, away: str, home: str) -> str:
    """The `YYYYMMDD_AWAY_HOME` id."""
    return f"{day:%Y%m%d}_{away}_{home}"


def regular_season(calendar: SeasonCalendar, rng: np.random.Generator) -> pd.DataFrame:
    """One row per regular-season game: game_id, game_date, home, away, is_playoffs."""
    matchups = regular_season_matchups(rng)
    dates = assign_dates(matchups, calendar, rng)
    frame = pd.DataFrame({
        "game_date": dates,
        "home": [h for h, _ in matchups],
        "away": [a for _, a in matchups],
    })
    frame["game_id"] = [game_id(d, a, h) for d, a, h in zip(frame.game_date, frame.away, frame.home)]
    frame["is_playoffs"] = False
    return frame.sort_values(["game_date", "game_id"], ignore_index=True)
