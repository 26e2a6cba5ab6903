-- One row per player per game (latest processed_at wins), typed. DNP rows are kept (is_active false).
with source as (
    select * from {{ source('nba_analytics', 'player_game_summary') }}
)

select
    cast(player_lookup as {{ dbt.type_string() }}) as player_lookup,
    cast(universal_player_id as {{ dbt.type_string() }}) as universal_player_id,
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(team_abbr as {{ dbt.type_string() }}) as team_abbr,
    cast(opponent_team_abbr as {{ dbt.type_string() }}) as opponent_team_abbr,
    cast(season_year as {{ dbt.type_bigint() }}) as season_year,
    coalesce(cast(is_active as boolean), false) as is_active,
    cast(minutes_played as {{ type_float64() }}) as minutes_played,
    cast(points as {{ dbt.type_bigint() }}) as points,
    cast(fg_attempts as {{ dbt.type_bigint() }}) as fg_attempts,
    cast(fg_makes as {{ dbt.type_bigint() }}) as fg_makes,
    cast(three_pt_attempts as {{ dbt.type_bigint() }}) as three_pt_attempts,
    cast(three_pt_makes as {{ dbt.type_bigint() }}) as three_pt_makes,
    cast(ft_makes as {{ dbt.type_bigint() }}) as ft_makes,
    cast(paint_attempts as {{ dbt.type_bigint() }}) as paint_attempts,
    cast(paint_makes as {{ dbt.type_bigint() }}) as paint_makes,
    cast(mid_range_attempts as {{ dbt.type_bigint() }}) as mid_range_attempts,
    cast(mid_range_makes as {{ dbt.type_bigint() }}) as mid_range_makes,
    cast(assisted_fg_makes as {{ dbt.type_bigint() }}) as assisted_fg_makes,
    cast(unassisted_fg_makes as {{ dbt.type_bigint() }}) as unassisted_fg_makes,
    cast(usage_rate as {{ type_float64() }}) as usage_rate,
    cast(ts_pct as {{ type_float64() }}) as ts_pct,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where player_lookup is not null and game_id is not null and game_date is not null
{{ latest_row_per_key(['player_lookup', 'game_id']) }}
