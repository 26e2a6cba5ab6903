-- Each player's qualifying games of a season in order (is_active and minutes or shots > 0), with the
-- zone sums of the last 10 and last 20 of them ending at each game. The state after game k holds
-- for every date D with game_date(k) < D <= valid_until (strictly before D: docs/decisions.md#point-in-time).
with shooting_games as (
    select *
    from {{ ref('int_player_games') }}
    where
        is_shooting_game
        and {{ window_filter('game_date', lookback_days=typed_var('season_lookback_days')) }}
),

numbered as (
    select
        *,
        row_number() over (
            partition by player_lookup, schedule_season_year order by game_date, game_id
        ) as game_number,
        lead(game_date) over (
            partition by player_lookup, schedule_season_year order by game_date, game_id
        ) as valid_until
    from shooting_games
)

select
    player_lookup,
    universal_player_id,
    team_abbr,
    schedule_season_year as season_year,
    game_date,
    valid_until,
    game_number,
    least(game_number, 10) as games_in_sample_10,
    least(game_number, 20) as games_in_sample_20,
    {%- for column in ['paint_attempts', 'paint_makes', 'mid_range_attempts', 'mid_range_makes', 'three_pt_attempts', 'three_pt_makes', 'fg_makes', 'assisted_fg_makes', 'unassisted_fg_makes'] %}
        cast(sum(coalesce({{ column }}, 0)) over last_10 as {{ dbt.type_bigint() }}) as {{ column }}_10,
    {%- endfor %}
    {%- for column in ['paint_attempts', 'paint_makes', 'mid_range_attempts', 'three_pt_attempts'] %}
        cast(sum(coalesce({{ column }}, 0)) over last_20 as {{ dbt.type_bigint() }}) as {{ column }}_20,
    {%- endfor %}
    max(processed_at) over last_20 as source_last_updated,
    {{ fingerprint_agg('data_hash', over='partition by player_lookup, schedule_season_year order by game_number rows between 19 preceding and current row') }} as source_hash
from numbered
window
    last_10 as (partition by player_lookup, schedule_season_year order by game_number rows between 9 preceding and current row),
    last_20 as (partition by player_lookup, schedule_season_year order by game_number rows between 19 preceding and current row)
