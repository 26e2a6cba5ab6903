-- One row per team per final game (home and away), numbered within the team's season. The
-- completeness denominator (docs/decisions.md#completeness) and the calendar of team game windows.
with final_games as (
    select
        game_id,
        game_date,
        season_year,
        home_team_tricode as team_abbr,
        true as is_home
    from {{ ref('stg_nba_raw__schedule') }}
    where is_final
    union all
    select
        game_id,
        game_date,
        season_year,
        away_team_tricode as team_abbr,
        false as is_home
    from {{ ref('stg_nba_raw__schedule') }}
    where is_final
)

select
    team_abbr,
    game_id,
    game_date,
    season_year,
    is_home,
    row_number() over (partition by team_abbr, season_year order by game_date, game_id) as team_game_number,
    lead(game_date) over (partition by team_abbr, season_year order by game_date, game_id) as next_game_date
from final_games
