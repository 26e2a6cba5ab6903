"""League constants: the 30 teams, their conferences and divisions, and the real season calendars.

Every date here is the real NBA date of that season (opening night, All-Star break, end of the
regular season, trade deadline, start of the playoffs). The play-in tournament is not modelled:
the sources hold regular-season and playoff games only.
"""

from dataclasses import dataclass
from datetime import date

DIVISIONS = {
    "East": {
        "Atlantic": ("BOS", "BKN", "NYK", "PHI", "TOR"),
        "Central": ("CHI", "CLE", "DET", "IND", "MIL"),
        "Southeast": ("ATL", "CHA", "MIA", "ORL", "WAS"),
    },
    "West": {
        "Northwest": ("DEN", "MIN", "OKC", "POR", "UTA"),
        "Pacific": ("GSW", "LAC", "LAL", "PHX", "SAC"),
        "Southwest": ("DAL", "HOU", "MEM", "NOP", "SAS"),
    },
}

TEAMS = tuple(sorted(t for conf in DIVISIONS.values() for div in conf.values() for t in div))
TEAM_INDEX = {t: i for i, t in enumerate(TEAMS)}
CONFERENCE = {t: conf for conf, divs in DIVISIONS.items() for div in divs.values() for t in div}


@dataclass(frozen=True)
class SeasonCalendar:
    """Real key dates of one season (season_year = the year the season starts)."""

    season_year: int
    opening_night: date
    thanksgiving: date
    all_star_break: tuple  # (first, last) day without games, inclusive
    regular_season_end: date
    trade_deadline: date
    playoffs_start: date

    def is_no_game_day(self, day: date) -> bool:
        """True on the days the league schedules no regular-season game."""
        first, last = self.all_star_break
        christmas_eve = date(self.season_year, 12, 24)
        return first <= day <= last or day in (self.thanksgiving, christmas_eve)


SEASONS = {
    2021: SeasonCalendar(2021, date(2021, 10, 19), date(2021, 11, 25),
                         (date(2022, 2, 18), date(2022, 2, 23)), date(2022, 4, 10),
                         date(2022, 2, 10), date(2022, 4, 16)),
    2022: SeasonCalendar(2022, date(2022, 10, 18), date(2022, 11, 24),
                         (date(2023, 2, 17), date(2023, 2, 22)), date(2023, 4, 9),
                         date(2023, 2, 9), date(2023, 4, 15)),
    2023: SeasonCalendar(2023, date(2023, 10, 24), date(2023, 11, 23),
                         (date(2024, 2, 16), date(2024, 2, 21)), date(2024, 4, 14),
                         date(2024, 2, 8), date(2024, 4, 20)),
    2024: SeasonCalendar(2024, date(2024, 10, 22), date(2024, 11, 28),
                         (date(2025, 2, 14), date(2025, 2, 19)), date(2025, 4, 13),
                         date(2025, 2, 6), date(2025, 4, 19)),
}

FIRST_SEASON = min(SEASONS)
LAST_SEASON = max(SEASONS)
