-- For each run date D and team: how many final games the team played in D's season strictly
-- before D (k), and the date of the latest one. Completeness windows count back from game k.
select
    run_dates.game_date,
    team_games.team_abbr,
    team_games.season_year,
    team_games.team_game_number as team_games_before,
    team_games.game_date as last_team_game_date
from {{ ref('int_run_dates') }} as run_dates
inner join {{ ref('int_team_games') }} as team_games
    on
        run_dates.season_year = team_games.season_year
        and run_dates.game_date > team_games.game_date
        and (team_games.next_game_date is null or run_dates.game_date <= team_games.next_game_date)
