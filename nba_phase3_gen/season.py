"""One season end to end: schedule, injuries, regular-season box scores, then the playoffs.

Everything is simulated for the whole season (the playoff bracket needs the final standings); the
cut given by --until is applied when the tables are written, so a slice is always a prefix of the
full data.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from . import availability, boxscores, playoffs, schedule
from .league import SEASONS, TEAM_INDEX
from .rng import stream
from .rosters import SeasonRosters

PLAYER_ATTRIBUTES = ["talent", "share_paint", "share_mid", "share_three", "pct_paint", "pct_mid",
                     "pct_three", "fta_rate", "ft_pct", "self_creation", "shot_volume", "minutes_factor"]
PLAYOFF_ROUNDS = 4
BLOCK_COLUMNS = ["blocks_paint", "blocks_mid_range", "blocks_three_pt"]


@dataclass
class SeasonData:
    """Simulated season: the games, one row per rostered player per game, one per team per game."""

    season_year: int
    games: pd.DataFrame         # game_id, game_date, day, home, away, is_playoffs
    player_games: pd.DataFrame  # player, team, opponent, day, role, status, is_active, box score
    team_games: pd.DataFrame    # team offence per game, plus the blocks its defender made
    teams: boxscores.TeamParams  # the season's team tendencies (the books price games from them)


@dataclass
class SeasonInputs:
    """What every batch of games of a season needs."""

    rosters: SeasonRosters
    pool: pd.DataFrame
    teams: boxscores.TeamParams
    spells: pd.DataFrame


def _with_days(games: pd.DataFrame) -> pd.DataFrame:
    games = games.reset_index(drop=True)
    games["day"] = [d.toordinal() for d in games.game_date]
    games["home_idx"] = games.home.map(TEAM_INDEX)
    games["away_idx"] = games.away.map(TEAM_INDEX)
    return games


def _roster_rows(games: pd.DataFrame, stints: pd.DataFrame) -> pd.DataFrame:
    """One row per player on each side's roster on the game date (side 0 = home), ordered by
    team_game = 2·game + side."""
    by_team = {team: (g.player.to_numpy(), np.array([d.toordinal() for d in g.start]),
                      np.array([d.toordinal() for d in g.end]))
               for team, g in stints.groupby("team")}
    columns = {"game": [], "side": [], "team": [], "opponent": [], "player": []}
    for game, (day, home, away) in enumerate(zip(games.day, games.home, games.away)):
        for side, (team, opponent) in enumerate(((home, away), (away, home))):
            players, start, end = by_team[team]
            members = players[(start <= day) & (day < end)]
            for name, value in (("game", game), ("side", side), ("team", team), ("opponent", opponent)):
                columns[name] += [value] * members.size
            columns["player"].append(members)
    columns["player"] = np.concatenate(columns["player"])
    rows = pd.DataFrame(columns)
    rows["team_game"] = 2 * rows.game + rows.side
    rows["day"] = games.day.to_numpy()[rows.game]
    rows["is_playoffs"] = games.is_playoffs.to_numpy()[rows.game]
    rows["team_idx"] = rows.team.map(TEAM_INDEX)
    rows["opponent_idx"] = rows.opponent.map(TEAM_INDEX)
    return rows


def _second_nights(rows: pd.DataFrame) -> np.ndarray:
    """Per row: the player's team also played the day before (within this batch of games)."""
    played = set(zip(rows.team, rows.day))
    return np.array([(t, d - 1) in played for t, d in zip(rows.team, rows.day)])


def play(rng, games: pd.DataFrame, inputs: SeasonInputs) -> tuple:
    """Rosters, statuses and box scores of a batch of games. Returns (player rows, team-game rows)."""
    games = _with_days(games)
    rows = _roster_rows(games, inputs.rosters.stints)
    rows["role"] = inputs.rosters.roles[rows.player].to_numpy()
    rows = rows.join(inputs.pool.loc[rows.player, PLAYER_ATTRIBUTES].reset_index(drop=True))
    rest_night = _second_nights(rows) & ~rows.is_playoffs.to_numpy()
    status = availability.player_status(rng, rows.player.to_numpy(), rows.day.to_numpy(),
                                        rows.role.to_numpy(), rest_night, inputs.spells)
    rows["status"], rows["is_active"] = availability.active_flags(
        rng, status, rows.team_game.to_numpy(), rows.role.to_numpy())
    stats, team = boxscores.simulate(rng, games, rows, inputs.teams)
    team[BLOCK_COLUMNS] = boxscores.block_counts(rng, team, inputs.teams)
    rows = rows.join(stats)
    rows["game_id"] = games.game_id.to_numpy()[rows.game]
    return rows.drop(columns=["game", "team_game"]), _label_teams(games, team)


def _label_teams(games: pd.DataFrame, team: pd.DataFrame) -> pd.DataFrame:
    """Attach game, date, team, opponent, home flag and margin to the team-game rows (home first)."""
    game = np.arange(len(team)) // 2
    team["game_id"] = games.game_id.to_numpy()[game]
    team["day"] = games.day.to_numpy()[game]
    team["is_playoffs"] = games.is_playoffs.to_numpy()[game]
    sides = np.stack([games.home.to_numpy(), games.away.to_numpy()], axis=1)
    team["team"] = sides.ravel()
    team["opponent"] = sides[:, ::-1].ravel()
    team["home_game"] = np.arange(len(team)) % 2 == 0
    points = team.points.to_numpy().reshape(-1, 2)
    team["margin"] = (points - points[:, ::-1]).ravel()
    return team


def _playoffs(seed: int, inputs: SeasonInputs, regular_team: pd.DataFrame) -> list:
    """Play the four rounds; returns [(games, player rows, team rows)] of the games actually played."""
    season_year = inputs.rosters.season_year
    table = playoffs.standings(regular_team, stream(seed, season_year, "standings"))
    series = playoffs.first_round(table)
    start = SEASONS[season_year].playoffs_start
    rounds = []
    for number in range(1, PLAYOFF_ROUNDS + 1):
        games = playoffs.series_games(series, start, finals=number == PLAYOFF_ROUNDS)
        rows, team = play(stream(seed, season_year, f"playoffs-round-{number}"), games, inputs)
        played, winners = playoffs.played_games(games, team.win_flag.to_numpy()[0::2])
        games = games[played]
        rounds.append((games, rows[rows.game_id.isin(games.game_id)], team[team.game_id.isin(games.game_id)]))
        series = playoffs.next_round(winners, table)
        start = playoffs.round_start(games)
    return rounds


def _inputs(seed: int, rosters: SeasonRosters) -> SeasonInputs:
    """Team tendencies and injury spells of the season; player skills centred on its league."""
    season_year = rosters.season_year
    calendar = SEASONS[season_year]
    players = np.sort(rosters.roles.index.to_numpy())
    pool = rosters.pool.assign(talent=rosters.pool.talent - rosters.pool.talent[players].mean())
    season_days = (date(season_year + 1, 6, 30) - calendar.opening_night).days
    spells = availability.injury_spells(stream(seed, season_year, "injuries"), players,
                                        pool.injury_proneness.to_numpy()[players],
                                        calendar.opening_night.toordinal(), season_days)
    return SeasonInputs(rosters, pool, boxscores.draw_team_params(stream(seed, season_year, "teams")), spells)


def simulate_season(seed: int, rosters: SeasonRosters) -> SeasonData:
    """All games of a season (regular season and playoffs) with their box scores."""
    season_year = rosters.season_year
    inputs = _inputs(seed, rosters)
    regular = schedule.regular_season(SEASONS[season_year], stream(seed, season_year, "schedule"))
    rows, team = play(stream(seed, season_year, "regular-season"), regular, inputs)
    batches = [(regular, rows, team)] + _playoffs(seed, inputs, team)
    games = _with_days(pd.concat([b[0] for b in batches], ignore_index=True))
    return SeasonData(
        season_year,
        games[["game_id", "game_date", "day", "home", "away", "is_playoffs"]],
        pd.concat([b[1] for b in batches], ignore_index=True),
        pd.concat([b[2] for b in batches], ignore_index=True),
        inputs.teams,
    )
