-- Each team's defensive games of a season in order, with the sums and means of its last 15 of them
-- ending at each game, and whether each final team game has a defence row (completeness).
-- The state after game k holds for dates D with game_date(k) < D <= valid_until.
with defense_games as (
    select
        defense.*,
        schedule.season_year as schedule_season_year
    from {{ ref('stg_nba_analytics__team_defense_game_summary') }} as defense
    inner join {{ ref('stg_nba_raw__schedule') }} as schedule
        on defense.game_id = schedule.game_id
    where {{ window_filter('defense.game_date', lookback_days=typed_var('season_lookback_days')) }}
),

numbered as (
    select
        *,
        row_number() over (
            partition by defending_team_abbr, schedule_season_year order by game_date, game_id
        ) as game_number,
        lead(game_date) over (
            partition by defending_team_abbr, schedule_season_year order by game_date, game_id
        ) as valid_until
    from defense_games
)

select
    defending_team_abbr as team_abbr,
    schedule_season_year as season_year,
    game_date,
    valid_until,
    game_number,
    least(game_number, 15) as games_in_sample,
    {%- for column in ['opp_paint_attempts', 'opp_paint_makes', 'opp_mid_range_attempts', 'opp_mid_range_makes', 'opp_three_pt_attempts', 'opp_three_pt_makes', 'points_in_paint_allowed', 'blocks_paint', 'blocks_mid_range', 'blocks_three_pt', 'points_allowed'] %}
        cast(sum(coalesce({{ column }}, 0)) over last_15 as {{ dbt.type_bigint() }}) as {{ column }}_15,
    {%- endfor %}
    avg(defensive_rating) over last_15 as defensive_rating_15,
    avg(opponent_pace) over last_15 as opponent_pace_15,
    max(processed_at) over last_15 as source_last_updated,
    {{ fingerprint_agg('data_hash', over='partition by defending_team_abbr, schedule_season_year order by game_number rows between 14 preceding and current row') }} as source_hash
from numbered
window last_15 as (
    partition by defending_team_abbr, schedule_season_year order by game_number rows between 14 preceding and current row
)
