"""Deterministic generator of realistic NBA Phase 3 analytics data (see `python -m nba_phase3_gen --help`).

Writes seven tables into a DuckDB file: in nba_raw, nbac_schedule and the prop-line snapshots per
book odds_api_player_points_props; in nba_analytics, player_game_summary, team_offense_game_summary,
team_defense_game_summary, upcoming_player_game_context and upcoming_team_game_context. The same
arguments always give the same rows; different seeds give different leagues. See `tables` for the column conventions
(the one allowed NULL: ts_pct of a row without field-goal or free-throw attempts).

Modules, in the order the data flows: league (teams, real calendars), rng (named random streams),
names and rosters (players, roles, trades), schedule and playoffs, availability (injury report),
boxscores (the simulation), season (one season end to end), context (upcoming-game context),
book (prop lines as the books set them, and their snapshots),
tables (contracts and the --until cut), writer (DuckDB), generate and cli.
"""

from .generate import generate

__all__ = ["generate"]
