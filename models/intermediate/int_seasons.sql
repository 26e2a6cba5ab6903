{{ config(materialized='table') }}
-- One row per season: its start (first final regular-season game; before opening night, the first
-- scheduled one) and its last scheduled date. Spec §5 decision 2, §8 clarification 1.
select
    season_year,
    coalesce(
        min(case when is_regular_season and is_final then game_date end),
        min(case when is_regular_season then game_date end),
        min(game_date)
    ) as season_start_date,
    max(game_date) as season_end_date
from {{ ref('stg_nba_raw__schedule') }}
group by season_year
