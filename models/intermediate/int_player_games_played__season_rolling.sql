-- Each player's played games of a season in order (is_active and minutes or points > 0), with the
-- daily cache's rolling statistics ending at each game: last 5, last 10 and the season (up to the
-- 82 most recent); and minutes_change's baseline in the feature store, the mean minutes of every
-- played game of the season (spec section 8, clarification 3; the daily cache keeps its 82-game
-- window). The state after game k holds for dates D with game_date(k) < D <= valid_until.
with played as (
    select *
    from {{ ref('int_player_games') }}
    where
        is_played_game
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
    from played
)

select
    player_lookup,
    universal_player_id,
    schedule_season_year as season_year,
    game_date,
    valid_until,
    game_number,
    least(game_number, 82) as games_played_season,
    avg(points) over last_5 as points_avg_last_5,
    avg(points) over last_10 as points_avg_last_10,
    stddev_samp(points) over last_10 as points_std_last_10,
    avg(minutes_played) over last_10 as minutes_avg_last_10,
    avg(usage_rate) over last_10 as usage_rate_last_10,
    avg(ts_pct) over last_10 as ts_pct_last_10,
    cast(sum(coalesce(assisted_fg_makes, 0)) over last_10 as {{ dbt.type_bigint() }}) as assisted_fg_makes_10,
    cast(sum(coalesce(fg_makes, 0)) over last_10 as {{ dbt.type_bigint() }}) as fg_makes_10,
    avg(points) over season_82 as points_avg_season,
    avg(usage_rate) over season_82 as usage_rate_season,
    avg(minutes_played) over season_82 as minutes_avg_season,
    avg(minutes_played) over season_all as minutes_avg_season_all,
    max(processed_at) over season_82 as source_last_updated,
    {{ fingerprint_agg('data_hash', over='partition by player_lookup, schedule_season_year order by game_number rows between 81 preceding and current row') }} as source_hash
from numbered
window
    last_5 as (partition by player_lookup, schedule_season_year order by game_number rows between 4 preceding and current row),
    last_10 as (partition by player_lookup, schedule_season_year order by game_number rows between 9 preceding and current row),
    season_82 as (partition by player_lookup, schedule_season_year order by game_number rows between 81 preceding and current row),
    season_all as (partition by player_lookup, schedule_season_year order by game_number rows between unbounded preceding and current row)
