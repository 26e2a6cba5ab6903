"""Box-score simulation, vectorised over every player-game row of a batch of games.

Per team-game: minutes by role (240 per team plus 25 per overtime), field-goal attempts from the
game's possessions, split between players by minutes and shot volume, then by zone from each
player's shot profile; makes from the player's zone skill, his team's offence, the opponent's
defence, home court and a per-game form. Free throws, assisted makes and turnovers follow.
Team rows are the sums of their players; no game ends tied (a tie gets one more made free throw).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .rosters import BENCH, ROTATION, STAR

ROLE_MINUTES = np.array([34.5, 30.5, 20.0, 8.0])
PLAYOFF_ROLE_MINUTES = np.array([38.5, 32.0, 17.0, 6.0])
FGA_PER_36 = np.array([20.0, 13.5, 11.5, 10.5])
ASSISTED_RATE = np.array([0.55, 0.40, 0.86])
GAME_FORM_SD = np.array([0.025, 0.03, 0.02])
BLOCK_RATE = np.array([0.19, 0.08, 0.015])
HOME_EDGE = 0.005
TALENT_EDGE = 0.008  # FG% per standard deviation of talent
FGA_PER_POSSESSION = 0.885
OFFENSIVE_REBOUNDS = 10.5
MIN_PLAYING = 8


@dataclass
class TeamParams:
    """Season-level team tendencies: shooting adjustment by zone on offence and allowed on defence,
    pace (possessions per 48) and shot-blocking."""

    offence: np.ndarray   # (30, 3) FG% adjustment
    defence: np.ndarray   # (30, 3) FG% adjustment allowed
    pace: np.ndarray      # (30,)
    blocking: np.ndarray  # (30,)


def draw_team_params(rng) -> TeamParams:
    """League spread of team offences, defences (centred: the league average stays put), paces and
    shot-blocking for one season."""
    offence = rng.normal(0, [0.014, 0.02, 0.006], (30, 3))
    defence = rng.normal(0, [0.02, 0.024, 0.009], (30, 3))
    return TeamParams(
        offence=offence - offence.mean(axis=0),
        defence=defence - defence.mean(axis=0),
        pace=rng.normal(99.8, 3.0, 30),
        blocking=rng.lognormal(0, 0.2, 30),
    )


def overtimes(rng, n_games: int) -> np.ndarray:
    """Overtime periods per game (about 6% of games go to overtime, a few to a second one)."""
    u = rng.random(n_games)
    return (u < 0.06).astype(int) + (u < 0.01)


def _slots(group: np.ndarray) -> np.ndarray:
    """Position of each row inside its (sorted, contiguous) group."""
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    return np.arange(group.size) - np.repeat(starts, np.diff(np.r_[starts, group.size]))


def _split(rng, totals: np.ndarray, weights: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Multinomial split of each group's total between its rows, proportionally to weights."""
    slot = _slots(group)
    matrix = np.zeros((totals.size, slot.max() + 1))
    matrix[group, slot] = weights
    sums = matrix.sum(axis=1, keepdims=True)
    matrix = np.where(sums > 0, matrix / np.where(sums > 0, sums, 1), 0)
    matrix[sums[:, 0] == 0, 0] = 1.0
    return rng.multinomial(np.where(sums[:, 0] > 0, totals, 0), matrix)[group, slot]


def _minutes(rng, rows: pd.DataFrame, ot: np.ndarray, n_tg: int) -> np.ndarray:
    """Minutes per row: role baseline with noise, coach's-decision DNPs on the bench (never leaving
    fewer than MIN_PLAYING players), filled up to the team's total minutes without exceeding a full game."""
    tg = rows.team_game.to_numpy()
    role = rows.role.to_numpy()
    playoffs = rows.is_playoffs.to_numpy()
    active = rows.is_active.to_numpy()
    missing = np.bincount(tg, weights=~active, minlength=n_tg)
    dnp_bench = np.clip(np.where(playoffs, 0.8, 0.62) - 0.12 * missing[tg], 0.05, None)
    dnp_p = np.where(role == BENCH, dnp_bench, np.where(role == ROTATION, 0.03, 0.0))
    plays = active & (rng.random(len(rows)) >= dnp_p)
    plays |= active & (np.bincount(tg, weights=plays, minlength=n_tg)[tg] < MIN_PLAYING)
    base = np.where(playoffs, PLAYOFF_ROLE_MINUTES[role], ROLE_MINUTES[role])
    base = base * rows.minutes_factor.to_numpy() * rng.lognormal(0, 0.12, len(rows)) * plays
    cap = 48.0 + 5 * ot[tg // 2]
    minutes = _fill(base, tg, 5 * np.repeat(48.0 + 5 * ot, 2), cap)
    return np.where(plays, np.maximum(np.round(minutes, 1), 1.0), 0.0)


def _fill(weights: np.ndarray, group: np.ndarray, totals: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Share each group's total in proportion to weights, capping rows and passing the excess on."""
    minutes = np.zeros_like(weights)
    for _ in range(10):
        room = (minutes < cap) & (weights > 0)
        deficit = totals - np.bincount(group, weights=minutes, minlength=totals.size)
        share = np.bincount(group, weights=weights * room, minlength=totals.size)
        minutes = np.minimum(minutes + np.where(room, weights * (deficit / np.maximum(share, 1e-9))[group], 0), cap)
    return minutes


def _shooting(rng, rows: pd.DataFrame, teams: TeamParams, fga: np.ndarray, n_tg: int) -> dict:
    """Zone attempts and makes per row."""
    tg = rows.team_game.to_numpy()
    shares = rows[["share_paint", "share_mid", "share_three"]].to_numpy()
    attempts = rng.multinomial(fga, shares)
    form = rng.normal(0, GAME_FORM_SD, (n_tg, 3))[tg]
    skill = rows[["pct_paint", "pct_mid", "pct_three"]].to_numpy() + TALENT_EDGE * rows.talent.to_numpy()[:, None]
    home = np.where(rows.side.to_numpy() == 0, HOME_EDGE, -HOME_EDGE)[:, None]
    team = rows.team_idx.to_numpy()
    opponent = rows.opponent_idx.to_numpy()
    p = np.clip(skill + teams.offence[team] + teams.defence[opponent] + home + form, 0.05, 0.95)
    makes = rng.binomial(attempts, p)
    return {"attempts": attempts, "makes": makes}


def simulate(rng, games: pd.DataFrame, rows: pd.DataFrame, teams: TeamParams) -> tuple:
    """Box scores for `games` (home, away team indexes) and their player rows (sorted by
    team_game = 2·game + side, side 0 = home). Returns (player stats frame, team-game frame)."""
    n_tg = 2 * len(games)
    tg = rows.team_game.to_numpy()
    ot = overtimes(rng, len(games))
    minutes = _minutes(rng, rows, ot, n_tg)
    home, away = games.home_idx.to_numpy(), games.away_idx.to_numpy()
    sides = np.stack([home, away], axis=1).ravel()
    game_pace = (teams.pace[home] + teams.pace[away]) / 2 + rng.normal(0, 3, len(games))
    possessions_target = np.repeat(game_pace * (48 + 5 * ot) / 48, 2) + rng.normal(0, 1, n_tg)
    team_fga = np.round(rng.normal(FGA_PER_POSSESSION * possessions_target, 2.0)).astype(int)
    volume = minutes * FGA_PER_36[rows.role.to_numpy()] * rows.shot_volume.to_numpy()
    fga = _split(rng, team_fga, volume, tg)
    shots = _shooting(rng, rows, teams, fga, n_tg)
    fta = rng.poisson(rows.fta_rate.to_numpy() * fga)
    ftm = rng.binomial(fta, rows.ft_pct.to_numpy())
    ftm, fta = _break_ties(rng, tg, shots, fta, ftm, minutes, n_tg)
    stats = _player_stats(rng, rows, shots, fta, ftm, minutes)
    team = _team_totals(rng, stats, tg, sides, possessions_target, ot)
    stats["usage_rate"] = _usage(rng, stats, team, tg)
    return stats, team


def _points(shots: dict, ftm: np.ndarray) -> np.ndarray:
    makes = shots["makes"]
    return 2 * (makes[:, 0] + makes[:, 1]) + 3 * makes[:, 2] + ftm


def _break_ties(rng, tg, shots, fta, ftm, minutes, n_tg) -> tuple:
    """A tied game gets one more made free throw for a random side, by its busiest player."""
    points = np.bincount(tg, weights=_points(shots, ftm), minlength=n_tg).reshape(-1, 2)
    for game in np.flatnonzero(points[:, 0] == points[:, 1]):
        side = int(rng.integers(0, 2))
        candidates = np.flatnonzero(tg == 2 * game + side)
        shooter = candidates[np.argmax(minutes[candidates])]
        fta[shooter] += 1
        ftm[shooter] += 1
    return ftm, fta


def _player_stats(rng, rows: pd.DataFrame, shots: dict, fta, ftm, minutes) -> pd.DataFrame:
    """The player box score; self-creators and stars are assisted less often. Fourth-quarter minutes
    (15-33% of the game's minutes) feed the upcoming-game context."""
    att, mk = shots["attempts"], shots["makes"]
    creation = rows.self_creation.to_numpy()[:, None] - 0.5
    star = (rows.role.to_numpy() == STAR)[:, None]
    assisted_p = np.clip(ASSISTED_RATE - 0.4 * creation - 0.08 * star, 0.02, 0.98)
    assisted = rng.binomial(mk, assisted_p).sum(axis=1)
    fg_makes = mk.sum(axis=1)
    return pd.DataFrame({
        "minutes_played": minutes,
        "points": _points(shots, ftm),
        "fg_attempts": att.sum(axis=1),
        "fg_makes": fg_makes,
        "three_pt_attempts": att[:, 2], "three_pt_makes": mk[:, 2],
        "ft_attempts": fta, "ft_makes": ftm,
        "paint_attempts": att[:, 0], "paint_makes": mk[:, 0],
        "mid_range_attempts": att[:, 1], "mid_range_makes": mk[:, 1],
        "assisted_fg_makes": assisted, "unassisted_fg_makes": fg_makes - assisted,
        "fourth_quarter_minutes": np.minimum(minutes * rng.uniform(0.15, 0.33, minutes.size), 12.0),
    }, index=rows.index)


def _team_totals(rng, stats: pd.DataFrame, tg, sides, possessions_target, ot) -> pd.DataFrame:
    """Team-game sums, turnovers and offensive rebounds, possessions, pace and rating."""
    n_tg = sides.size
    sums = {c: np.bincount(tg, weights=stats[c], minlength=n_tg).astype(int)
            for c in ("points", "fg_attempts", "ft_attempts", "paint_attempts", "paint_makes",
                      "mid_range_attempts", "mid_range_makes", "three_pt_attempts", "three_pt_makes")}
    team = pd.DataFrame(sums)
    team["minutes"] = np.bincount(tg, weights=stats.minutes_played, minlength=n_tg)
    team["team_idx"] = sides
    team["orb"] = rng.poisson(OFFENSIVE_REBOUNDS, n_tg)
    team["tov"] = np.clip(np.round(possessions_target - team.fg_attempts - 0.44 * team.ft_attempts
                                   + team.orb), 5, 25).astype(int)
    team["possessions"] = team.fg_attempts + 0.44 * team.ft_attempts - team.orb + team.tov
    team["pace"] = team.possessions * 48 / (48 + 5 * np.repeat(ot, 2))
    team["offensive_rating"] = 100 * team.points / team.possessions
    points = team.points.to_numpy().reshape(-1, 2)
    team["win_flag"] = (points > points[:, ::-1]).ravel()
    return team


def _usage(rng, stats: pd.DataFrame, team: pd.DataFrame, tg) -> np.ndarray:
    """Usage rate (%) from the standard formula; turnovers split between players by involvement."""
    involvement = stats.fg_attempts + 0.44 * stats.ft_attempts + 0.3 * (stats.minutes_played > 0)
    tov = _split(rng, team.tov.to_numpy(), involvement.to_numpy(), tg)
    plays = stats.fg_attempts + 0.44 * stats.ft_attempts + tov
    team_plays = (team.fg_attempts + 0.44 * team.ft_attempts + team.tov).to_numpy()[tg]
    minutes = stats.minutes_played.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        usage = 100 * plays * (team.minutes.to_numpy()[tg] / 5) / (minutes * team_plays)
    return np.where(minutes > 0, np.clip(usage, 0, 100), 0.0)


def block_counts(rng, team: pd.DataFrame, teams: TeamParams) -> np.ndarray:
    """Blocks by zone of each defending team (the other side of each team-game), at most 10."""
    defender = team.team_idx.to_numpy().reshape(-1, 2)[:, ::-1].ravel()
    misses = np.stack([team.paint_attempts - team.paint_makes,
                       team.mid_range_attempts - team.mid_range_makes,
                       team.three_pt_attempts - team.three_pt_makes], axis=1)
    rate = np.clip(BLOCK_RATE * teams.blocking[defender][:, None], 0, 0.6)
    blocks = rng.binomial(misses, rate)
    blocks[:, 0] = np.maximum(0, np.minimum(blocks[:, 0], 10 - blocks[:, 1] - blocks[:, 2]))
    return blocks
