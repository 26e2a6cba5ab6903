"""Players and rosters: a league-wide player pool, season rosters with roles, and mid-season trades.

The pool is created once for the first supported season and evolves deterministically from one
offseason to the next (ageing, retirements, releases, rookies), independently of simulated results,
so a season's rosters depend only on the seed and the season, not on which seasons are generated.
Roles (star, starter, rotation, bench) are re-ranked by talent within each team every season.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from .league import FIRST_SEASON, SEASONS, TEAMS
from .names import lookup_of, new_names
from .rng import stream

STAR, STARTER, ROTATION, BENCH = range(4)  # role codes
POSITION_SHARE = (0.36, 0.24, 0.20, 0.20)   # guard, wing, forward, centre (position codes 0-3)

# per position: mean three-point share, median mid-range share, base FG% (paint, mid, three)
THREE_SHARE = np.array([0.47, 0.50, 0.39, 0.16])
MID_SHARE = np.array([0.12, 0.105, 0.10, 0.075])
ZONE_PCT = np.array([
    [0.530, 0.414, 0.364],
    [0.548, 0.418, 0.366],
    [0.566, 0.418, 0.352],
    [0.620, 0.405, 0.330],
])
FT_PCT = np.array([0.80, 0.78, 0.75, 0.68])

ROSTER_SIZES = (13, 14, 15, 16, 17)
ROSTER_SIZE_P = (0.10, 0.20, 0.40, 0.20, 0.10)
ROOKIES_PER_SEASON = 45
OLDEST_OPENING_AGE = 37


@dataclass
class SeasonRosters:
    """Who played for whom in one season: roles for the season and team stints (trades split them)."""

    season_year: int
    pool: pd.DataFrame    # every player known so far, with this season's talent
    roles: pd.Series      # pool index -> role code
    stints: pd.DataFrame  # player, team, start, end (end exclusive)
    trades: pd.DataFrame  # trade_date, player, from_team, to_team


def age_on(birth_dates, day) -> np.ndarray:
    """Whole years of age on `day` for an array of birth dates."""
    born = pd.DatetimeIndex(birth_dates)
    day = pd.Timestamp(day)
    before_birthday = (born.month > day.month) | ((born.month == day.month) & (born.day > day.day))
    return (day.year - born.year - before_birthday.astype(int)).to_numpy()


def new_players(rng: np.random.Generator, count: int, ages: np.ndarray, on: date,
                taken: set) -> pd.DataFrame:
    """`count` new players aged `ages` (whole years) on `on`, with position-shaped skills."""
    names = new_names(rng, count, taken)
    position = rng.choice(4, size=count, p=POSITION_SHARE)
    three = np.clip(rng.normal(THREE_SHARE[position], 0.11), 0.02, 0.72)
    mid = np.clip(MID_SHARE[position] * rng.lognormal(0, 0.5, count), 0.01, 0.30)
    paint = 1.0 - three - mid
    short = paint < 0.2
    three[short] -= 0.2 - paint[short]
    paint = 1.0 - three - mid
    birth = (np.datetime64(on, "D") - (ages * 365.25).astype(int)
             - rng.integers(0, 365, count)).astype("datetime64[D]")
    lookups = [lookup_of(n) for n in names]
    return pd.DataFrame({
        "player_lookup": lookups,
        "universal_player_id": [f"{k}_001" for k in lookups],
        "birth_date": birth,
        "position": position,
        "talent": rng.normal(0, 1, count),
        "share_paint": paint, "share_mid": mid, "share_three": three,
        "pct_paint": rng.normal(ZONE_PCT[position, 0], 0.030),
        "pct_mid": rng.normal(ZONE_PCT[position, 1], 0.035),
        "pct_three": rng.normal(ZONE_PCT[position, 2], 0.025),
        "fta_rate": np.clip(rng.normal(0.24 + 0.05 * (position == 3), 0.08), 0.05, 0.6),
        "ft_pct": np.clip(rng.normal(FT_PCT[position], 0.07), 0.45, 0.95),
        "self_creation": np.clip(rng.normal(0.5, 0.15), 0.1, 0.9),
        "shot_volume": rng.lognormal(0, 0.15, count),
        "minutes_factor": np.clip(rng.normal(1, 0.06, count), 0.85, 1.15),
        "injury_proneness": rng.lognormal(0, 0.45, count),
    })


def assign_roles(teams: pd.Series, talent: pd.Series) -> pd.Series:
    """Rank players by talent within each team: one star (two if the second is strong), starters
    up to five, four rotation players, the rest bench."""
    rank = talent.groupby(teams).rank(ascending=False, method="first").astype(int)
    second_strong = talent.groupby(teams).transform(lambda t: t.nlargest(2).iloc[-1] >= 1.0)
    stars = np.where(second_strong, 2, 1)
    role = np.select([rank <= stars, rank <= 5, rank <= 9], [STAR, STARTER, ROTATION], BENCH)
    return pd.Series(role, index=teams.index)


def initial_league(seed: int) -> tuple:
    """The player pool and team of every player on the first season's opening night."""
    rng = stream(seed, FIRST_SEASON, "initial-league")
    opening = SEASONS[FIRST_SEASON].opening_night
    sizes = rng.choice(ROSTER_SIZES, size=len(TEAMS), p=ROSTER_SIZE_P)
    total = int(sizes.sum())
    ages = np.clip(np.round(rng.gamma(4.5, 1.7, total) + 19.5), 19, OLDEST_OPENING_AGE)
    pool = new_players(rng, total, ages, opening, set())
    pool["talent"] += _age_talent(ages)
    team = pd.Series(np.repeat(TEAMS, sizes), index=pool.index)
    return pool, team


def _age_talent(ages: np.ndarray) -> np.ndarray:
    """Talent bonus by age: young players are raw, players peak around 27."""
    return -0.04 * (ages - 27.0) ** 2 / 4


def offseason(pool: pd.DataFrame, team: pd.Series, season_year: int, seed: int) -> tuple:
    """Age the league by one offseason before `season_year`: development, retirements, releases,
    rookies and free-agent signings. Returns the grown pool and the new team of every rostered player."""
    rng = stream(seed, season_year, "offseason")
    opening = SEASONS[season_year].opening_night
    pool = pool.copy()
    ages = age_on(pool.birth_date.to_numpy(), opening)
    pool["talent"] += np.where(ages < 25, 0.15, np.where(ages < 30, 0.0, -0.15 - 0.05 * (ages - 30)))
    pool["talent"] += rng.normal(0, 0.2, len(pool))
    team = team.copy()
    retiring = (ages[team.index] > OLDEST_OPENING_AGE) | (
        (ages[team.index] >= 35) & (rng.random(len(team)) < 0.35))
    leaving = rng.random(len(team)) < np.where(pool.talent[team.index] > 1.2, 0.12, 0.3)
    team = team[~(retiring | leaving)]
    rookie_ages = rng.integers(19, 23, ROOKIES_PER_SEASON).astype(float)
    rookies = new_players(rng, ROOKIES_PER_SEASON, rookie_ages, opening, set(pool.player_lookup))
    rookies["talent"] += -0.6 + _age_talent(rookie_ages)
    rookies.index = np.arange(len(pool), len(pool) + len(rookies))
    pool = pd.concat([pool, rookies])
    ages = age_on(pool.birth_date.to_numpy(), opening)
    free = pool.index[~pool.index.isin(team.index) & (ages <= OLDEST_OPENING_AGE)]
    return pool, _sign_free_agents(rng, pool, team, free)


def _sign_free_agents(rng, pool: pd.DataFrame, team: pd.Series, free: pd.Index) -> pd.Series:
    """Bring every roster to a new target size of 13-17: release the weakest players of rosters that
    are too big, then teams in random order sign the best remaining free agents (with noise)."""
    target = dict(zip(TEAMS, rng.choice(ROSTER_SIZES, size=len(TEAMS), p=ROSTER_SIZE_P)))
    kept = []
    for abbr in TEAMS:
        members = team[team == abbr].index
        keep = pool.talent[members].sort_values(ascending=False).index[:target[abbr]]
        kept.append(pd.Series(abbr, index=keep))
    team = pd.concat(kept)
    appeal = pool.talent[free] + rng.normal(0, 0.5, len(free))
    market = list(appeal.sort_values(ascending=False).index)
    needs = {t: target[t] - int((team == t).sum()) for t in TEAMS}
    signings = {}
    while any(needs.values()):
        for abbr in (str(t) for t in rng.permutation(TEAMS)):
            if needs[abbr] > 0:
                signings[market.pop(0)] = abbr
                needs[abbr] -= 1
    return pd.concat([team, pd.Series(signings, dtype=object)]).sort_index()


def draw_trades(rng, team: pd.Series, roles: pd.Series, calendar) -> pd.DataFrame:
    """A handful of 1-for-1 and 2-for-2 trades between the middle of November and the deadline."""
    rows, traded = [], set()
    first = date(calendar.season_year, 11, 15)
    window = (calendar.trade_deadline - first).days
    for _ in range(int(rng.integers(4, 9))):
        day = first + timedelta(days=int(rng.integers(0, window + 1)))
        a, b = (str(t) for t in rng.choice(TEAMS, size=2, replace=False))
        size = 1 if rng.random() < 0.7 else 2
        sides = []
        for abbr in (a, b):
            members = [p for p in team[team == abbr].index
                       if p not in traded and (roles[p] != STAR or rng.random() < 0.1)]
            sides.append(rng.choice(members, size=size, replace=False))
        for (src, dst), players in zip(((a, b), (b, a)), sides):
            for p in players:
                traded.add(int(p))
                rows.append((day, int(p), src, dst))
    trades = pd.DataFrame(rows, columns=["trade_date", "player", "from_team", "to_team"])
    return trades.sort_values(["trade_date", "player"], ignore_index=True)


def stints_of(team: pd.Series, trades: pd.DataFrame) -> pd.DataFrame:
    """Team stints of every player: [start, end) per team; a trade ends one stint and opens another."""
    far_past, far_future = date(1900, 1, 1), date(2100, 1, 1)
    stints = pd.DataFrame({"player": team.index, "team": team.values,
                           "start": far_past, "end": far_future})
    for trade in trades.itertuples():
        current = (stints.player == trade.player) & (stints.end == far_future)
        stints.loc[current, "end"] = trade.trade_date
        stints.loc[len(stints)] = (trade.player, trade.to_team, trade.trade_date, far_future)
    return stints.sort_values(["team", "player", "start"], ignore_index=True)


def season_rosters(seed: int, last_season: int) -> dict:
    """Rosters of every season from the first supported one up to `last_season`."""
    pool, team = initial_league(seed)
    seasons = {}
    for season_year in range(FIRST_SEASON, last_season + 1):
        if season_year > FIRST_SEASON:
            pool, team = offseason(pool, team, season_year, seed)
        calendar = SEASONS[season_year]
        roles = assign_roles(team, pool.talent[team.index])
        trades = draw_trades(stream(seed, season_year, "trades"), team, roles, calendar)
        seasons[season_year] = SeasonRosters(season_year, pool, roles, stints_of(team, trades), trades)
        team = team.copy()
        team[trades.player.to_numpy()] = trades.to_team.to_numpy()
    return seasons
