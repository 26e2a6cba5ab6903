-- One row per player per upcoming game (latest processed_at wins), typed.
with source as (
    select * from {{ source('nba_analytics', 'upcoming_player_game_context') }}
)

select
    cast(player_lookup as {{ dbt.type_string() }}) as player_lookup,
    cast(universal_player_id as {{ dbt.type_string() }}) as universal_player_id,
    cast(game_id as {{ dbt.type_string() }}) as game_id,
    cast(game_date as date) as game_date,
    cast(team_abbr as {{ dbt.type_string() }}) as team_abbr,
    cast(opponent_team_abbr as {{ dbt.type_string() }}) as opponent_team_abbr,
    cast(home_game as boolean) as home_game,
    cast(back_to_back as boolean) as back_to_back,
    cast(season_phase as {{ dbt.type_string() }}) as season_phase,
    cast(days_rest as {{ dbt.type_bigint() }}) as days_rest,
    cast(opponent_days_rest as {{ dbt.type_bigint() }}) as opponent_days_rest,
    cast(games_in_last_7_days as {{ dbt.type_bigint() }}) as games_in_last_7_days,
    cast(games_in_last_14_days as {{ dbt.type_bigint() }}) as games_in_last_14_days,
    cast(minutes_in_last_7_days as {{ dbt.type_bigint() }}) as minutes_in_last_7_days,
    cast(minutes_in_last_14_days as {{ dbt.type_bigint() }}) as minutes_in_last_14_days,
    cast(avg_minutes_per_game_last_7 as {{ type_float64() }}) as avg_minutes_per_game_last_7,
    cast(back_to_backs_last_14_days as {{ dbt.type_bigint() }}) as back_to_backs_last_14_days,
    cast(fourth_quarter_minutes_last_7 as {{ dbt.type_bigint() }}) as fourth_quarter_minutes_last_7,
    cast(player_age as {{ dbt.type_bigint() }}) as player_age,
    cast(projected_usage_rate as {{ type_float64() }}) as projected_usage_rate,
    cast(avg_usage_rate_last_7_games as {{ type_float64() }}) as avg_usage_rate_last_7_games,
    cast(star_teammates_out as {{ dbt.type_bigint() }}) as star_teammates_out,
    cast(pace_differential as {{ type_float64() }}) as pace_differential,
    cast(opponent_pace_last_10 as {{ type_float64() }}) as opponent_pace_last_10,
    lower(cast(player_status as {{ dbt.type_string() }})) as player_status,
    coalesce(cast(has_prop_line as boolean), false) as has_prop_line,
    cast(current_points_line as {{ type_float64() }}) as current_points_line,
    coalesce(cast(is_production_ready as boolean), false) as is_production_ready,
    cast(data_hash as {{ dbt.type_string() }}) as data_hash,
    cast(processed_at as {{ dbt.type_timestamp() }}) as processed_at,
    cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
where player_lookup is not null and game_id is not null and game_date is not null
{{ latest_row_per_key(['player_lookup', 'game_id']) }}
