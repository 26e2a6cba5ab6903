-- Each player's played games in order across seasons, with the feature store's Phase 3 history
-- (docs/decisions.md#phase3-history and #phase3-fallbacks): the last <= 10 played games before D, any season, NULL points
-- and minutes counted as 0 as legacy did. The state after game k holds for dates D with
-- game_date(k) < D <= valid_until (his next played game, any season).
with played as (
    select
        *,
        coalesce(points, 0) as points_or_zero
    from {{ ref('int_player_games') }}
    where is_played_game
)

select
    player_lookup,
    game_date,
    lead(game_date) over by_game as valid_until,
    count(*) over last_10 as games_last_10,
    avg(points_or_zero) over last_5 as points_avg_last_5,
    avg(points_or_zero) over last_10 as points_avg_last_10,
    stddev_samp(points_or_zero) over last_10 as points_std_last_10,
    avg(coalesce(minutes_played, 0)) over last_10 as minutes_avg_last_10,
    cast(sum(points_or_zero) over last_10 as {{ dbt.type_bigint() }}) as points_sum_last_10,
    cast(sum(coalesce(ft_makes, 0)) over last_10 as {{ dbt.type_bigint() }}) as ft_makes_sum_last_10,
    cast(sum(coalesce(paint_attempts, 0)) over last_10 as {{ dbt.type_bigint() }}) as paint_attempts_last_10,
    cast(sum(coalesce(mid_range_attempts, 0)) over last_10 as {{ dbt.type_bigint() }}) as mid_range_attempts_last_10,
    cast(sum(coalesce(three_pt_attempts, 0)) over last_10 as {{ dbt.type_bigint() }}) as three_pt_attempts_last_10,
    points_or_zero as points_1,
    lag(points_or_zero, 1) over by_game as points_2,
    lag(points_or_zero, 2) over by_game as points_3,
    lag(points_or_zero, 3) over by_game as points_4,
    lag(points_or_zero, 4) over by_game as points_5,
    {{ fingerprint_agg('data_hash', over='partition by player_lookup order by game_date, game_id rows between 9 preceding and current row') }} as source_hash
from played
window
    by_game as (partition by player_lookup order by game_date, game_id),
    last_5 as (partition by player_lookup order by game_date, game_id rows between 4 preceding and current row),
    last_10 as (partition by player_lookup order by game_date, game_id rows between 9 preceding and current row)
