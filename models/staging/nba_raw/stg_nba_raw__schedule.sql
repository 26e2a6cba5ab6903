-- One row per game (latest scrape wins), typed.
with source as (
    select * from {{ source('nba_raw', 'nbac_schedule') }}
)

select
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(season_year as {{ dbt.type_bigint() }}) as season_year,
    cast(game_status as {{ dbt.type_bigint() }}) as game_status,
    coalesce(cast(is_regular_season as boolean), false) as is_regular_season,
    coalesce(cast(is_playoffs as boolean), false) as is_playoffs,
    cast(home_team_tricode as {{ dbt.type_string() }}) as home_team_tricode,
    cast(away_team_tricode as {{ dbt.type_string() }}) as away_team_tricode,
    cast(game_status as {{ dbt.type_bigint() }}) = 3 as is_final,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where game_id is not null and game_date is not null
{{ latest_row_per_key(['game_id']) }}
