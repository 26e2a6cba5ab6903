"""Injury report: each player's status before every game of his team, and whether he was active.

Injuries are spells on the calendar (a few per player-season, a week or two typically, some much
longer): the player is `out` during the spell, `doubtful` in its last days, `questionable` then
`probable` just after it. Healthy players sometimes appear as probable, questionable or doubtful,
and stars rest (`out`) on some second nights of back-to-backs. Whether a listed player dresses is a
draw by status; every team keeps at least nine active players.
"""

import numpy as np
import pandas as pd

from .rosters import STAR

STATUSES = ("available", "probable", "questionable", "doubtful", "out")
AVAILABLE, PROBABLE, QUESTIONABLE, DOUBTFUL, OUT = range(5)
PLAYS_GIVEN_STATUS = np.array([1.0, 0.95, 0.65, 0.25, 0.0])
SPELLS_PER_SEASON = 2.0
SPELL_MEDIAN_DAYS = 7.0
MIN_ACTIVE = 9
KEY_STRIDE = 1_000_000


def injury_spells(rng, players: np.ndarray, proneness: np.ndarray, first_day: int,
                  season_days: int) -> pd.DataFrame:
    """Non-overlapping injury spells [start, end) in day ordinals, per player."""
    counts = rng.poisson(SPELLS_PER_SEASON * proneness)
    owner = np.repeat(players, counts)
    start = first_day + rng.integers(0, season_days, owner.size)
    length = np.clip(np.round(rng.lognormal(np.log(SPELL_MEDIAN_DAYS), 1.0, owner.size)), 1, 90)
    spells = pd.DataFrame({"player": owner, "start": start, "length": length.astype(int)})
    spells = spells.sort_values(["player", "start"], ignore_index=True)
    previous_end = (spells.start + spells.length).groupby(spells.player).shift().fillna(0)
    spells["start"] = np.maximum(spells.start, previous_end.astype(int) + 5)
    spells["end"] = spells.start + spells.length
    return spells[["player", "start", "end"]]


def _days_to_return(spells: pd.DataFrame, player: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Per row: days until the end of the player's latest spell started on or before the day
    (positive while injured, negative after the return, very negative without any spell)."""
    keys = spells.player.to_numpy() * KEY_STRIDE + spells.start.to_numpy()
    i = np.searchsorted(keys, player * KEY_STRIDE + day, side="right") - 1
    found = (i >= 0) & (spells.player.to_numpy()[np.maximum(i, 0)] == player)
    end = np.where(found, spells.end.to_numpy()[np.maximum(i, 0)], -10**6)
    return end - day


def player_status(rng, player: np.ndarray, day: np.ndarray, role: np.ndarray,
                  rest_night: np.ndarray, spells: pd.DataFrame) -> np.ndarray:
    """Status code per player-game row (see STATUSES)."""
    to_end = _days_to_return(spells, player, day)
    u = rng.random(player.size)
    status = np.select(
        [u < 0.012, u < 0.04, u < 0.09],
        [DOUBTFUL, QUESTIONABLE, PROBABLE], AVAILABLE)
    status = np.where((to_end <= 0) & (to_end > -2), QUESTIONABLE, status)
    status = np.where((to_end <= -2) & (to_end > -6), PROBABLE, status)
    injured = to_end > 0
    status = np.where(injured, np.where((to_end <= 2) & (u < 0.5), DOUBTFUL, OUT), status)
    resting = rest_night & (role == STAR) & ~injured & (rng.random(player.size) < 0.2)
    return np.where(resting, OUT, status)


def active_flags(rng, status: np.ndarray, team_game: np.ndarray, role: np.ndarray) -> tuple:
    """Whether each listed player dressed; teams short of MIN_ACTIVE players bring back their least
    serious cases (as questionable players who play). Returns (status, active)."""
    active = rng.random(status.size) < PLAYS_GIVEN_STATUS[status]
    status = status.copy()
    counts = np.bincount(team_game, weights=active, minlength=team_game.max() + 1)
    for tg in np.flatnonzero(counts < MIN_ACTIVE):
        rows = np.flatnonzero((team_game == tg) & ~active)
        order = rows[np.lexsort((-role[rows], status[rows]))]
        back = order[: MIN_ACTIVE - int(counts[tg])]
        active[back] = True
        status[back] = QUESTIONABLE
    return status, active

