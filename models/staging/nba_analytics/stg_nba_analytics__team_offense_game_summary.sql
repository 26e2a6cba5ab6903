-- One row per team per game on offence (latest processed_at wins), typed.
with source as (
    select * from {{ source('nba_analytics', 'team_offense_game_summary') }}
)

select
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(team_abbr as {{ dbt.type_string() }}) as team_abbr,
    cast(opponent_team_abbr as {{ dbt.type_string() }}) as opponent_team_abbr,
    cast(season_year as {{ dbt.type_bigint() }}) as season_year,
    cast(home_game as boolean) as home_game,
    cast(points_scored as {{ dbt.type_bigint() }}) as points_scored,
    cast(pace as {{ type_float64() }}) as pace,
    cast(offensive_rating as {{ type_float64() }}) as offensive_rating,
    cast(win_flag as boolean) as win_flag,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where game_id is not null and team_abbr is not null and game_date is not null
{{ latest_row_per_key(['game_id', 'team_abbr']) }}
