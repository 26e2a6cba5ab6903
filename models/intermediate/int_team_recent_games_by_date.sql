-- For each run date D and team: the team's final games of D's season in the 14 days before D,
-- with how many days before D each was played. The calendar of the day-window completeness
-- checks (L7d, L14d of the daily cache), joined on (team, D) instead of a range per player.
select
    run_dates.game_date,
    team_games.team_abbr,
    team_games.game_id,
    {{ days_between('team_games.game_date', 'run_dates.game_date') }} as days_before
from {{ ref('int_run_dates') }} as run_dates
inner join {{ ref('int_team_games') }} as team_games
    on
        run_dates.season_year = team_games.season_year
        and run_dates.game_date > team_games.game_date
        and team_games.game_date >= {{ date_add_days('run_dates.game_date', -14) }}
