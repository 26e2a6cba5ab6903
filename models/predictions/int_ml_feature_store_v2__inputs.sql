{{ config(materialized='table', schema='nba_staging', hash_merge=false, row_hash_column='input_fingerprint') }}
-- One prepared row per version-1 row of the run window for version 2 of ml_feature_store_v2
-- (features 25-36; features 0-24 are version 1's stored row): the points prop lines of his game
-- before tip-off (minutes_before_tipoff >= 0 only), and his box-score history before the date - the
-- last 10 played games (points, minutes, newest first), the DNPs among his last 10 rows, his games
-- against the date's opponent in the 365 days before it and his season average. Version 1's inputs
-- (int_ml_feature_store__inputs) are not touched, so its fingerprints and hashes do not change.
with slate as (
    -- The spine is version 1's stored rows of the run window (built first in the same command), so
    -- version 2 holds exactly version 1's players, also on a date whose new rows a gate held back.
    select
        store.player_lookup,
        store.game_id,
        store.game_date,
        run_dates.season_year,
        upcoming.opponent_team_abbr
    from {{ ref('ml_feature_store_v2', v=1) }} as store
    inner join {{ ref('int_run_dates') }} as run_dates
        on store.game_date = run_dates.game_date
    left join {{ ref('int_upcoming_player_slate') }} as upcoming
        on
            store.player_lookup = upcoming.player_lookup
            and store.game_date = upcoming.game_date
            and store.game_id = upcoming.game_id
),

-- Market: snapshots of the player's game taken before tip-off. The book is the preferred one when it
-- has such a snapshot, else the book with the latest one (ties by book name).
pre_tipoff as (
    select
        slate.player_lookup,
        slate.game_date,
        snapshots.bookmaker,
        snapshots.minutes_before_tipoff,
        snapshots.snapshot_timestamp,
        snapshots.points_line
    from slate
    inner join {{ ref('stg_nba_raw__prop_line_snapshots') }} as snapshots
        on
            slate.game_id = snapshots.game_id
            and slate.player_lookup = snapshots.player_lookup
    where snapshots.minutes_before_tipoff >= 0
),

chosen_book as (
    select
        player_lookup,
        game_date,
        bookmaker
    from pre_tipoff
    qualify row_number() over (
            partition by player_lookup, game_date
            order by
                case when bookmaker = '{{ typed_var("preferred_prop_book") }}' then 0 else 1 end,
                minutes_before_tipoff asc,
                bookmaker asc
        ) = 1
),

lines as (
    select
        pre_tipoff.player_lookup,
        pre_tipoff.game_date,
        max(pre_tipoff.bookmaker) as prop_bookmaker,
        max(case when pre_tipoff.snapshot_rank_latest = 1 then pre_tipoff.points_line end) as prop_line_current,
        max(case when pre_tipoff.snapshot_rank_earliest = 1 then pre_tipoff.points_line end) as prop_line_opening
    from (
        select
            pre_tipoff.*,
            row_number() over (
                partition by pre_tipoff.player_lookup, pre_tipoff.game_date
                order by pre_tipoff.minutes_before_tipoff asc, pre_tipoff.snapshot_timestamp desc
            ) as snapshot_rank_latest,
            row_number() over (
                partition by pre_tipoff.player_lookup, pre_tipoff.game_date
                order by pre_tipoff.minutes_before_tipoff desc, pre_tipoff.snapshot_timestamp asc
            ) as snapshot_rank_earliest
        from pre_tipoff
        inner join chosen_book
            on
                pre_tipoff.player_lookup = chosen_book.player_lookup
                and pre_tipoff.game_date = chosen_book.game_date
                and pre_tipoff.bookmaker = chosen_book.bookmaker
    ) as pre_tipoff
    group by pre_tipoff.player_lookup, pre_tipoff.game_date
),

-- History: every box-score row of the player before the date (the lookback of int_player_games),
-- ranked newest first among all rows and among played games (docs/decisions.md#phase3-history).
history as (
    select
        slate.player_lookup,
        slate.game_date,
        games.points,
        games.minutes_played,
        games.is_played_game,
        games.opponent_team_abbr = slate.opponent_team_abbr
        and games.game_date >= {{ date_add_days('slate.game_date', -365) }} as is_vs_opponent,
        games.schedule_season_year = slate.season_year as is_this_season,
        row_number() over (
            partition by slate.player_lookup, slate.game_date
            order by games.game_date desc, games.game_id desc
        ) as row_rank,
        row_number() over (
            partition by slate.player_lookup, slate.game_date, games.is_played_game
            order by games.game_date desc, games.game_id desc
        ) as played_rank
    from slate
    inner join {{ ref('int_player_games') }} as games
        on
            slate.player_lookup = games.player_lookup
            and slate.game_date > games.game_date
),

history_summary as (
    select
        player_lookup,
        game_date,
        sum(case when row_rank <= 10 then 1 else 0 end) as rows_last_10,
        sum(case when row_rank <= 10 and not is_played_game then 1 else 0 end) as dnp_rows_last_10,
        sum(case when is_played_game and played_rank <= 10 then 1 else 0 end) as played_games_last_10,
        {%- for rank in range(1, 11) %}
            max(case when is_played_game and played_rank = {{ rank }} then cast(points as {{ type_float64() }}) end)
                as points_{{ rank }},
            max(case when is_played_game and played_rank = {{ rank }} then minutes_played end) as minutes_{{ rank }},
        {%- endfor %}
        sum(case when is_played_game and is_vs_opponent then 1 else 0 end) as games_vs_opponent,
        avg(case when is_played_game and is_vs_opponent then cast(points as {{ type_float64() }}) end)
            as points_avg_vs_opponent,
        sum(case when is_played_game and is_this_season then 1 else 0 end) as season_games,
        avg(case when is_played_game and is_this_season then cast(points as {{ type_float64() }}) end)
            as points_avg_season
    from history
    group by player_lookup, game_date
)

select
    slate.player_lookup,
    slate.game_date,
    slate.game_id,
    lines.prop_bookmaker,
    lines.prop_line_current,
    lines.prop_line_opening,
    coalesce(history_summary.rows_last_10, 0) as rows_last_10,
    coalesce(history_summary.dnp_rows_last_10, 0) as dnp_rows_last_10,
    coalesce(history_summary.played_games_last_10, 0) as played_games_last_10,
    {%- for rank in range(1, 11) %}
        history_summary.points_{{ rank }},
        history_summary.minutes_{{ rank }},
    {%- endfor %}
    coalesce(history_summary.games_vs_opponent, 0) as games_vs_opponent,
    history_summary.points_avg_vs_opponent,
    coalesce(history_summary.season_games, 0) as season_games,
    history_summary.points_avg_season,
    '{{ consumer_code_version() }}' as code_version
from slate
left join lines
    on slate.player_lookup = lines.player_lookup and slate.game_date = lines.game_date
left join history_summary
    on slate.player_lookup = history_summary.player_lookup and slate.game_date = history_summary.game_date
