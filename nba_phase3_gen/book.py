"""Points prop lines as the books set them, and the snapshots of those lines per book.

A book prices a player's game from what it expects him to score, not from his past box scores: his
true shooting by zone, talent, shot volume and free throws; his expected minutes from his role and
both injury reports (who is out, who is doubtful); the matchup (both teams' pace, the opponent's
defence by zone) and home court. These are the simulation's own expectations (`boxscores`), so a
simple average of past points, which also carries last month's noise and opponents, cannot beat them.

The market's line is that expectation plus the market's own error (a per-player bias for the
season and a per-game error), at the half point. Each book posts an opening line the day before the
game (further from the market's line), moves it during game day towards its closing line (the
market's line plus a small book offset), and is scraped a few times after tip-off too (live lines
that no feature may read: `minutes_before_tipoff < 0`).
"""

import numpy as np
import pandas as pd

from .availability import DOUBTFUL, OUT, PLAYS_GIVEN_STATUS
from .boxscores import FGA_PER_36, FGA_PER_POSSESSION, HOME_EDGE, PLAYOFF_ROLE_MINUTES, ROLE_MINUTES, TALENT_EDGE
from .rosters import BENCH, ROTATION

EXPECTED_OVERTIMES = 0.07   # 6% of games go to overtime, 1% to a second one
ZONE_POINTS = np.array([2.0, 2.0, 3.0])
MIN_LINE = 0.5


def _team_games(rows: pd.DataFrame) -> np.ndarray:
    """A code per (game, side): the rows of one team in one game."""
    return rows.groupby(["game_id", "side"], sort=False).ngroup().to_numpy()


def expected_points(rows: pd.DataFrame, teams) -> np.ndarray:
    """Per player-game row: his expected points if he plays, from the simulation's parameters and the
    injury report (not from results). Minutes: his role minutes against the minutes his teammates are
    expected to take (each weighed by the chance he dresses and is not benched); shots: his share of
    the team's expected attempts; points per shot: his zone mix and accuracy against this opponent."""
    tg = _team_games(rows)
    n_tg = tg.max() + 1
    role, status = rows.role.to_numpy(), rows.status.to_numpy()
    playoffs = rows.is_playoffs.to_numpy()
    p_active = PLAYS_GIVEN_STATUS[status]
    missing = np.bincount(tg, weights=1 - p_active, minlength=n_tg)[tg]
    dnp_bench = np.clip(np.where(playoffs, 0.8, 0.62) - 0.12 * missing, 0.05, None)
    p_plays = p_active * (1 - np.where(role == BENCH, dnp_bench, np.where(role == ROTATION, 0.03, 0.0)))
    base = np.where(playoffs, PLAYOFF_ROLE_MINUTES[role], ROLE_MINUTES[role]) * rows.minutes_factor.to_numpy()
    volume = base * FGA_PER_36[role] * rows.shot_volume.to_numpy()
    team_volume = np.bincount(tg, weights=p_plays * volume, minlength=n_tg)[tg]
    share = volume / (team_volume - p_plays * volume + volume)
    team_idx, opponent_idx = rows.team_idx.to_numpy(), rows.opponent_idx.to_numpy()
    game_pace = (teams.pace[team_idx] + teams.pace[opponent_idx]) / 2
    team_fga = FGA_PER_POSSESSION * game_pace * (48 + 5 * EXPECTED_OVERTIMES) / 48
    home = np.where(rows.side.to_numpy() == 0, HOME_EDGE, -HOME_EDGE)[:, None]
    accuracy = np.clip(rows[["pct_paint", "pct_mid", "pct_three"]].to_numpy()
                       + TALENT_EDGE * rows.talent.to_numpy()[:, None]
                       + teams.offence[team_idx] + teams.defence[opponent_idx] + home, 0.05, 0.95)
    mix = rows[["share_paint", "share_mid", "share_three"]].to_numpy()
    per_shot = (mix * accuracy * ZONE_POINTS).sum(axis=1) + rows.fta_rate.to_numpy() * rows.ft_pct.to_numpy()
    return team_fga * share * per_shot


# --- the market's line and the books' snapshots ---------------------------------------------------

BOOKS = ("betmgm", "caesars", "draftkings", "fanduel")   # by name: ties between books break this way
PREFERRED_BOOK = "draftkings"
BOOK_COVERAGE = np.array([0.75, 0.65, 0.92, 0.90])      # chance a book offers a market that exists
ROTATION_MARKET = 0.8          # share of rotation players' games with a market (stars and starters: all)
PLAYER_BIAS_SD = 0.25          # the market's error on a player, for the whole season
GAME_ERROR_SD = 0.5            # the market's error on one game
RECENT_FORM_WEIGHT = 0.12      # the market leans towards the last ten games (public money)
RECENT_GAMES = 10
BOOK_OFFSET_SD = 0.2           # a book's closing line around the market's
OPENING_ERROR_SD = 1.0         # a book's opening line around its closing line
LIVE_MOVE_SD = 3.0             # lines after tip-off follow the game
# minutes before tip-off of the scrapes: the opening the afternoon before, game day, the close, and
# one in-game scrape (tip-off taken at 00:00 UTC the day after the game date, 19:00 New York).
SNAPSHOT_MINUTES = np.array([1800, 240, 10, -30])
SNAPSHOT_PROGRESS = np.array([0.0, 0.6, 1.0])     # share of the move from opening to close
LIVE_SCRAPE = 0.6              # chance a book still shows a line in the in-game scrape


def half_point(values) -> np.ndarray:
    """The nearest line on the half point (x.5), at least MIN_LINE."""
    return np.maximum(np.floor(np.asarray(values, dtype=float)) + 0.5, MIN_LINE)


def _recent_points(rows: pd.DataFrame) -> tuple:
    """(mean, count) of the player's points over his last RECENT_GAMES played games before the day."""
    from .context import History
    played = rows[rows.minutes_played > 0]
    history = History(played.player.to_numpy(), played.day.to_numpy(), {"points": played.points})
    total, count = history.last("points", rows.player.to_numpy(), rows.day.to_numpy(), RECENT_GAMES)
    return total / np.maximum(count, 1), count


def market_lines(rng, rows: pd.DataFrame, teams) -> tuple:
    """Per player-game row: whether a market exists (the player is expected to play: not out or
    doubtful; stars and starters always, most rotation players) and the market's fair line before
    rounding: expected points plus the market's errors, leaning a little towards recent form."""
    role, status = rows.role.to_numpy(), rows.status.to_numpy()
    expected_to_play = (status != OUT) & (status != DOUBTFUL)
    has_market = expected_to_play & ((role < ROTATION) | ((role == ROTATION) & (rng.random(len(rows)) < ROTATION_MARKET)))
    expected = expected_points(rows, teams)
    recent, games = _recent_points(rows)
    lean = np.where(games > 0, RECENT_FORM_WEIGHT * (recent - expected), 0.0)
    bias = rng.normal(0, PLAYER_BIAS_SD, rows.player.max() + 1)[rows.player.to_numpy()]
    return has_market, expected + bias + rng.normal(0, GAME_ERROR_SD, len(rows)) + lean


def snapshots(rng, rows: pd.DataFrame, teams) -> pd.DataFrame:
    """The books' scrapes of every market: one row per (player-game row, book, scrape), with the row's
    index in `rows`, the book, minutes_before_tipoff, the points line and American prices."""
    has_market, fair = market_lines(rng, rows, teams)
    market = np.flatnonzero(has_market)
    n_books = len(BOOKS)
    offers = rng.random((market.size, n_books)) < BOOK_COVERAGE
    offers[~offers.any(axis=1), BOOKS.index(PREFERRED_BOOK)] = True
    row, book = np.nonzero(offers)
    fair = fair[market[row]]
    closing = fair + rng.normal(0, BOOK_OFFSET_SD, row.size)
    opening = closing + rng.normal(0, OPENING_ERROR_SD, row.size)
    first = rng.choice(2, row.size, p=[0.8, 0.2])              # some books open on game day
    pre = len(SNAPSHOT_PROGRESS)
    scrape = np.arange(pre + 1)
    taken = (scrape[None, :] >= first[:, None]) & ((scrape[None, :] < pre) | (rng.random((row.size, 1)) < LIVE_SCRAPE))
    offer, step = np.nonzero(taken)
    progress = SNAPSHOT_PROGRESS[np.minimum(step, pre - 1)]
    value = opening[offer] + (closing[offer] - opening[offer]) * progress
    value = np.where(step == pre, closing[offer] + rng.normal(0, LIVE_MOVE_SD, offer.size), value)
    line = half_point(value)
    lean = np.clip(np.round((fair[offer] - line) * 4) * 5, -20, 20)   # the side the book expects, in cents
    return pd.DataFrame({
        "row": market[row[offer]], "bookmaker": np.array(BOOKS)[book[offer]],
        "minutes_before_tipoff": SNAPSHOT_MINUTES[step], "points_line": line,
        "over_price": (-110 - lean).astype(int), "under_price": (-110 + lean).astype(int),
    })


def context_lines(snaps: pd.DataFrame, n_rows: int) -> tuple:
    """(has_prop_line, line) per row as the snapshots imply: the preferred book's latest snapshot before
    tip-off, else the latest one of any book (ties by book name); no line without such a snapshot."""
    pre = snaps[snaps.minutes_before_tipoff >= 0]
    pre = pre.assign(other_book=pre.bookmaker != PREFERRED_BOOK)
    chosen = pre.sort_values(["row", "other_book", "minutes_before_tipoff", "bookmaker"]).drop_duplicates("row")
    has_line = np.zeros(n_rows, dtype=bool)
    line = np.full(n_rows, np.nan)
    has_line[chosen.row.to_numpy()] = True
    line[chosen.row.to_numpy()] = chosen.points_line.to_numpy()
    return has_line, line
