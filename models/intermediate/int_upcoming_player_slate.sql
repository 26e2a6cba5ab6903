-- One row per player per run date from the upcoming context, with the date's season and flags: the
-- driver of the daily cache, the composite factors and the feature store. Two rows for one player
-- on one date (two game ids): the latest processed_at wins, then the smallest game_id
-- (docs/decisions.md#tie-breaks).
select
    upcoming.*,
    run_dates.season_year,
    run_dates.early_season_flag,
    run_dates.season_boundary_detected,
    run_dates.backfill_bootstrap_mode
from {{ ref('stg_nba_analytics__upcoming_player_game_context') }} as upcoming
inner join {{ ref('int_run_dates') }} as run_dates
    on upcoming.game_date = run_dates.game_date
qualify row_number() over (
        partition by upcoming.player_lookup, upcoming.game_date
        order by upcoming.processed_at desc nulls last, upcoming.game_id asc
    ) = 1
