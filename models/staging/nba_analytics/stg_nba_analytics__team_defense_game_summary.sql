-- One row per defending team per game (latest processed_at wins), typed.
with source as (
    select * from {{ source('nba_analytics', 'team_defense_game_summary') }}
)

select
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(defending_team_abbr as {{ dbt.type_string() }}) as defending_team_abbr,
    cast(opponent_team_abbr as {{ dbt.type_string() }}) as opponent_team_abbr,
    cast(season_year as {{ dbt.type_bigint() }}) as season_year,
    cast(points_allowed as {{ dbt.type_bigint() }}) as points_allowed,
    cast(opp_paint_attempts as {{ dbt.type_bigint() }}) as opp_paint_attempts,
    cast(opp_paint_makes as {{ dbt.type_bigint() }}) as opp_paint_makes,
    cast(opp_mid_range_attempts as {{ dbt.type_bigint() }}) as opp_mid_range_attempts,
    cast(opp_mid_range_makes as {{ dbt.type_bigint() }}) as opp_mid_range_makes,
    cast(opp_three_pt_attempts as {{ dbt.type_bigint() }}) as opp_three_pt_attempts,
    cast(opp_three_pt_makes as {{ dbt.type_bigint() }}) as opp_three_pt_makes,
    cast(points_in_paint_allowed as {{ dbt.type_bigint() }}) as points_in_paint_allowed,
    cast(mid_range_points_allowed as {{ dbt.type_bigint() }}) as mid_range_points_allowed,
    cast(three_pt_points_allowed as {{ dbt.type_bigint() }}) as three_pt_points_allowed,
    cast(blocks_paint as {{ dbt.type_bigint() }}) as blocks_paint,
    cast(blocks_mid_range as {{ dbt.type_bigint() }}) as blocks_mid_range,
    cast(blocks_three_pt as {{ dbt.type_bigint() }}) as blocks_three_pt,
    cast(defensive_rating as {{ type_float64() }}) as defensive_rating,
    cast(opponent_pace as {{ type_float64() }}) as opponent_pace,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where game_id is not null and defending_team_abbr is not null and game_date is not null
{{ latest_row_per_key(['game_id', 'defending_team_abbr']) }}
