-- One row per team per upcoming game (latest processed_at wins), typed.
with source as (
    select * from {{ source('nba_analytics', 'upcoming_team_game_context') }}
)

select
    cast(team_abbr as {{ dbt.type_string() }}) as team_abbr,
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(season_year as {{ dbt.type_bigint() }}) as season_year,
    cast(opponent_team_abbr as {{ dbt.type_string() }}) as opponent_team_abbr,
    cast(home_game as boolean) as home_game,
    cast(game_total as {{ type_float64() }}) as game_total,
    cast(game_spread as {{ type_float64() }}) as game_spread,
    coalesce(cast(is_production_ready as boolean), false) as is_production_ready,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where team_abbr is not null and game_id is not null and game_date is not null
{{ latest_row_per_key(['team_abbr', 'game_id']) }}
