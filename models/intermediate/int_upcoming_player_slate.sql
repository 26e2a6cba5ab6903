{{ config(materialized='table') }}
-- One row per player per game date from the upcoming context: the driver of the daily cache, the
-- composite factors and the feature store. Two rows for one player on one date (two game ids):
-- the latest processed_at wins, then the smallest game_id (spec §8 clarification 5).
select *
from {{ ref('stg_nba_analytics__upcoming_player_game_context') }}
where {{ window_filter('game_date') }}
qualify row_number() over (
        partition by player_lookup, game_date
        order by processed_at desc nulls last, game_id asc
    ) = 1
