"""Playoff bracket and series calendar: 16 teams (top 8 of each conference), four best-of-7 rounds.

Every series is laid out as seven potential games (2-2-1-1-1 home pattern, higher seed first);
the season simulation plays them and keeps the games up to the fourth win.
"""

from datetime import timedelta

import numpy as np
import pandas as pd

from .league import CONFERENCE, TEAMS
from .schedule import game_id

SERIES_DAYS = np.array([0, 2, 5, 7, 9, 11, 13])
FINALS_DAYS = np.array([0, 3, 5, 8, 10, 13, 16])
HIGHER_SEED_HOSTS = np.array([True, True, False, False, True, False, True])
FIRST_ROUND_PAIRS = ((1, 8), (4, 5), (3, 6), (2, 7))
DAYS_BETWEEN_ROUNDS = 2


def standings(team_games: pd.DataFrame, rng) -> pd.DataFrame:
    """Regular-season record per team, ranked within conference (wins, point differential, lot)."""
    table = team_games.groupby("team").agg(wins=("win_flag", "sum"), diff=("margin", "sum"))
    table = table.reindex(list(TEAMS))
    table["conference"] = [CONFERENCE[t] for t in table.index]
    table["lot"] = rng.random(len(table))
    table = table.sort_values(["wins", "diff", "lot"], ascending=False)
    table["seed"] = table.groupby("conference").cumcount() + 1
    return table


def first_round(table: pd.DataFrame) -> list:
    """(higher seed, lower seed) pairs of round 1 in bracket order, East then West."""
    series = []
    for conference in ("East", "West"):
        by_seed = {seed: team for team, seed in table[table.conference == conference].seed.items()}
        series += [(by_seed[a], by_seed[b]) for a, b in FIRST_ROUND_PAIRS]
    return series


def next_round(winners: list, table: pd.DataFrame) -> list:
    """Pair consecutive winners of the previous round; the better record hosts game 1."""
    pairs = []
    for a, b in zip(winners[::2], winners[1::2]):
        a_first = (table.loc[a, "wins"], table.loc[a, "diff"]) >= (table.loc[b, "wins"], table.loc[b, "diff"])
        pairs.append((a, b) if a_first else (b, a))
    return pairs


def series_games(series: list, start, finals: bool) -> pd.DataFrame:
    """All seven potential games of each series of a round, with dates and home teams."""
    offsets = FINALS_DAYS if finals else SERIES_DAYS
    rows = []
    for k, (high, low) in enumerate(series):
        first = start + timedelta(days=k % 2)
        for n, (offset, high_home) in enumerate(zip(offsets, HIGHER_SEED_HOSTS)):
            day = first + timedelta(days=int(offset))
            home, away = (high, low) if high_home else (low, high)
            rows.append((k, n, day, home, away, game_id(day, away, home)))
    games = pd.DataFrame(rows, columns=["series", "game_in_series", "game_date", "home", "away", "game_id"])
    games["is_playoffs"] = True
    return games


def played_games(games: pd.DataFrame, home_won: np.ndarray) -> tuple:
    """Mask of the games actually played (up to a side's fourth win) and each series' winner."""
    winner = np.where(home_won, games.home, games.away)
    played = np.zeros(len(games), dtype=bool)
    winners = []
    for _, idx in games.groupby("series", sort=True).indices.items():
        wins = {}
        for i in idx:
            played[i] = True
            wins[winner[i]] = wins.get(winner[i], 0) + 1
            if wins[winner[i]] == 4:
                winners.append(winner[i])
                break
    return played, winners


def round_start(previous_games: pd.DataFrame):
    """A new round starts two days after the last game of the previous one."""
    return previous_games.game_date.max() + timedelta(days=DAYS_BETWEEN_ROUNDS)
