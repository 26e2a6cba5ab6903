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

-- History (docs/decisions.md#phase3-history): the player's box-score rows (the lookback of
-- int_player_games) numbered oldest first, among all rows and among played games. Each slate row
-- finds its place in that sequence (the number of rows and of played games before its date), then
-- joins the ten rows and the ten played games before it by number: ten equality joins per row, where
-- joining every earlier game and ranking them would touch the player's whole history per date.
games as (
    select
        player_lookup,
        game_id,
        game_date,
        opponent_team_abbr,
        schedule_season_year,
        is_played_game,
        points,
        minutes_played,
        row_number() over (partition by player_lookup order by game_date, game_id) as row_number,
        sum(case when is_played_game then 1 else 0 end) over (
            partition by player_lookup order by game_date, game_id rows between unbounded preceding and current row
        ) as played_number,
        sum(case when is_played_game then 1 else 0 end) over (
            partition by player_lookup, schedule_season_year
            order by game_date, game_id rows between unbounded preceding and current row
        ) as season_played,
        sum(case when is_played_game and points is not null then 1 else 0 end) over (
            partition by player_lookup, schedule_season_year
            order by game_date, game_id rows between unbounded preceding and current row
        ) as season_scored,
        sum(case when is_played_game then cast(points as {{ type_float64() }}) else 0 end) over (
            partition by player_lookup, schedule_season_year
            order by game_date, game_id rows between unbounded preceding and current row
        ) as season_points
    from {{ ref('int_player_games') }}
    where player_lookup in (select slate.player_lookup from slate)
),

-- The slate rows placed in each player's sequence: on a date, the slate row comes before that date's
-- games, so a running maximum over the rows before it counts games strictly before its date.
timeline as (
    select
        player_lookup,
        game_date,
        season_year,
        1 as is_slate_row,
        cast(null as {{ dbt.type_int() }}) as row_number,
        cast(null as {{ dbt.type_int() }}) as played_number,
        cast(null as {{ dbt.type_int() }}) as season_played,
        cast(null as {{ dbt.type_int() }}) as season_scored,
        cast(null as {{ type_float64() }}) as season_points
    from slate
    union all
    select
        player_lookup,
        game_date,
        schedule_season_year as season_year,
        0 as is_slate_row,
        row_number,
        played_number,
        season_played,
        season_scored,
        season_points
    from games
),

placed as (
    select
        player_lookup,
        game_date,
        is_slate_row,
        coalesce(max(row_number) over before_date, 0) as rows_before,
        coalesce(max(played_number) over before_date, 0) as played_before,
        coalesce(max(season_played) over season_before_date, 0) as season_games,
        max(season_scored) over season_before_date as season_scored,
        max(season_points) over season_before_date as season_points
    from timeline
    window
        before_date as (
            partition by player_lookup order by game_date asc, is_slate_row desc
            rows between unbounded preceding and current row
        ),
        season_before_date as (
            partition by player_lookup, season_year order by game_date asc, is_slate_row desc
            rows between unbounded preceding and current row
        )
),

positions as (
    select
        player_lookup,
        game_date,
        rows_before,
        played_before,
        season_games,
        season_scored,
        season_points
    from placed
    where is_slate_row = 1
),

offsets as (
    {%- for offset in range(10) %}
        select {{ offset }} as games_back
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

last_rows as (
    select
        positions.player_lookup,
        positions.game_date,
        count(*) as rows_last_10,
        sum(case when games.is_played_game then 0 else 1 end) as dnp_rows_last_10
    from positions
    cross join offsets
    inner join games
        on
            positions.player_lookup = games.player_lookup
            and positions.rows_before - offsets.games_back = games.row_number
    group by positions.player_lookup, positions.game_date
),

last_played as (
    select
        positions.player_lookup,
        positions.game_date,
        count(*) as played_games_last_10,
        {%- for rank in range(1, 11) %}
            max(case when offsets.games_back = {{ rank - 1 }} then cast(games.points as {{ type_float64() }}) end)
                as points_{{ rank }},
            max(case when offsets.games_back = {{ rank - 1 }} then games.minutes_played end) as minutes_{{ rank }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from positions
    cross join offsets
    inner join games
        on
            positions.player_lookup = games.player_lookup
            and positions.played_before - offsets.games_back = games.played_number
            and games.is_played_game
    group by positions.player_lookup, positions.game_date
),

versus_opponent as (
    select
        slate.player_lookup,
        slate.game_date,
        count(*) as games_vs_opponent,
        avg(cast(games.points as {{ type_float64() }})) as points_avg_vs_opponent
    from slate
    inner join games
        on
            slate.player_lookup = games.player_lookup
            and slate.opponent_team_abbr = games.opponent_team_abbr
            and slate.game_date > games.game_date
            and {{ date_add_days('slate.game_date', -365) }} <= games.game_date
            and games.is_played_game
    group by slate.player_lookup, slate.game_date
)

select
    slate.player_lookup,
    slate.game_date,
    slate.game_id,
    lines.prop_bookmaker,
    lines.prop_line_current,
    lines.prop_line_opening,
    coalesce(last_rows.rows_last_10, 0) as rows_last_10,
    coalesce(last_rows.dnp_rows_last_10, 0) as dnp_rows_last_10,
    coalesce(last_played.played_games_last_10, 0) as played_games_last_10,
    {%- for rank in range(1, 11) %}
        last_played.points_{{ rank }},
        last_played.minutes_{{ rank }},
    {%- endfor %}
    coalesce(versus_opponent.games_vs_opponent, 0) as games_vs_opponent,
    versus_opponent.points_avg_vs_opponent,
    positions.season_games,
    {{ safe_divide('positions.season_points', 'positions.season_scored') }} as points_avg_season,
    '{{ consumer_code_version() }}' as code_version
from slate
inner join positions
    on slate.player_lookup = positions.player_lookup and slate.game_date = positions.game_date
left join lines
    on slate.player_lookup = lines.player_lookup and slate.game_date = lines.game_date
left join last_rows
    on slate.player_lookup = last_rows.player_lookup and slate.game_date = last_rows.game_date
left join last_played
    on slate.player_lookup = last_played.player_lookup and slate.game_date = last_played.game_date
left join versus_opponent
    on slate.player_lookup = versus_opponent.player_lookup and slate.game_date = versus_opponent.game_date
