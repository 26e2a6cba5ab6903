-- Every box-score row with the schedule's season (docs/decisions.md#season) and the two "game counts"
-- filters the legacy processors used. A box score of a game missing from the schedule stops the build
-- at staging (gate *__game_matches_schedule), so the join drops nothing. Pruned to the run window's lookback.
select
    games.*,
    schedule.season_year as schedule_season_year,
    games.is_active
    and (coalesce(games.minutes_played, 0) > 0 or coalesce(games.fg_attempts, 0) > 0) as is_shooting_game,
    games.is_active
    and (coalesce(games.minutes_played, 0) > 0 or coalesce(games.points, 0) > 0) as is_played_game
from {{ ref('stg_nba_analytics__player_game_summary') }} as games
inner join {{ ref('stg_nba_raw__schedule') }} as schedule
    on games.game_id = schedule.game_id
-- Lookback: the run window plus typed_var('history_lookback_days') before it (season windows need at
-- most one season; the any-season last-10 windows reach into the previous season).
where {{ window_filter('games.game_date', lookback_days=typed_var('history_lookback_days')) }}
