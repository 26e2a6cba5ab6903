{{
  config(
    unique_key=['game_date', 'feature_version', 'feature_name'],
    window_column='game_date',
    partition_by={'field': 'game_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['feature_version', 'feature_name', 'game_date'],
  )
}}
{%- set reference_game_days = typed_var('feature_health_reference_game_days') -%}
{%- set lookback_days = typed_var('feature_health_lookback_days') -%}
{%- set pool_game_days = typed_var('feature_health_pool_game_days') -%}
-- Health of every feature of ml_feature_store_v2 on every game date: provenance shares, NULL/NaN
-- counts, distribution, PSI and mean drift of the date's sample (pooled with the game days just
-- before it when the date alone is too small), the players' change since their previous game day,
-- against the feature's reference window, and a status
-- with its cause (docs/feature_health.md). One set-based pass for any window: the reference of a
-- date is read from the store over `feature_health_lookback_days` before the window.
-- Every version of the store is judged (int_ml_feature_store_v2__versions). A feature name means one
-- computation in every version that holds it (the versions' contract, docs/feature_versions.md), so
-- each (date, player, feature) is judged once and its verdict is reported for every version holding
-- the feature. A market feature labelled `missing` (no prop line before tip-off) is no value of the
-- distribution.
with schedule_sides as (
    select
        game_id,
        game_date,
        home_team_tricode as team_abbr,
        true as is_home
    from {{ ref('stg_nba_raw__schedule') }}
    where {{ window_filter('game_date', lookback_days + 7) }}
    union all
    select
        game_id,
        game_date,
        away_team_tricode as team_abbr,
        false as is_home
    from {{ ref('stg_nba_raw__schedule') }}
    where {{ window_filter('game_date', lookback_days + 7) }}
),

-- Each team side's games in the 7 days before its game (how dense its schedule was).
team_week_games as (
    select
        game_side.game_id,
        game_side.is_home,
        count(earlier_game.game_id) as week_games
    from schedule_sides as game_side
    left join schedule_sides as earlier_game
        on
            game_side.team_abbr = earlier_game.team_abbr
            and earlier_game.game_date between {{ date_add_days('game_side.game_date', -7) }} and {{ date_add_days('game_side.game_date', -1) }}
    group by game_side.game_id, game_side.is_home
),

store_rows as (
    select
        store.game_date,
        store.player_lookup,
        store.opponent_team_abbr,
        store.is_home,
        -- the row's schedule context: its team's rest days, its opponent's (the other side's rows of
        -- the same game) and its team's games in the 7 days before the game, 99 when unknown
        (coalesce(store.days_rest, 99) * 100 + coalesce(case
            when store.is_home then max(case when not store.is_home then store.days_rest end) over (partition by store.game_date, store.game_id, store.feature_version)
            else max(case when store.is_home then store.days_rest end) over (partition by store.game_date, store.game_id, store.feature_version)
        end, 99)) * 100 + coalesce(team_week_games.week_games, 99) as context_key,
        store.feature_version,
        store.feature_names,
        store.features,
        store.feature_sources
    from {{ ref('int_ml_feature_store_v2__versions') }} as store
    left join team_week_games on store.game_id = team_week_games.game_id and store.is_home = team_week_games.is_home
    where
        {{ window_filter('store.game_date', lookback_days) }}
        and not store.early_season_flag
),

version_values as (
    {{ unnest_feature_store('store_rows') }}
),

-- Which version holds which feature at which position (from the stored rows themselves).
version_features as (
    select distinct
        feature_version,
        feature_name,
        feature_index
    from version_values
),

feature_values as (
    select
        game_date,
        player_lookup,
        team_key,
        context_key,
        feature_name,
        feature_value,
        feature_source
    from version_values
    where feature_source != 'missing'
    qualify row_number() over (
            partition by game_date, player_lookup, feature_name order by feature_version
        ) = 1
),

-- Values that count for the distribution (not NULL, not NaN), per team: players of one team who
-- share a value (a team's pace, its opponent, its rest) are one independent observation.
team_values as (
    select
        game_date,
        feature_name,
        team_key,
        feature_value,
        count(*) as value_count
    from feature_values
    where feature_value is not null and not {{ is_nan('feature_value') }}
    group by game_date, feature_name, team_key, feature_value
),

-- Per date: values, team sides holding a value, and distinct (team, value) pairs.
independent_values as (
    select
        game_date,
        feature_name,
        sum(value_count) as player_count,
        count(distinct team_key) as team_count,
        count(*) as pair_count
    from team_values
    group by game_date, feature_name
),

-- Each player's change since his previous game day in the store, and each team side's (its
-- players' mean value against the same opponent, home or away, the previous time): a fault that
-- moves every value moves every change, however few teams play. A player's own features move
-- little from one game to the next, his opponent's features with the opponent.
player_changes as (
    select
        game_date,
        feature_name,
        feature_value - lag(feature_value) over (
            partition by player_lookup, feature_name order by game_date
        ) as value_change
    from feature_values
    where feature_value is not null and not {{ is_nan('feature_value') }}
),

side_changes as (
    select
        game_date,
        feature_name,
        sum(feature_value * value_count) / sum(value_count)
        - lag(sum(feature_value * value_count) / sum(value_count)) over (
            partition by team_key, feature_name order by game_date
        ) as value_change
    from team_values
    group by game_date, feature_name, team_key
),

player_daily_changes as (
    select
        game_date,
        feature_name,
        avg(value_change) as mean_change
    from player_changes
    where value_change is not null
    group by game_date, feature_name
),

side_daily_changes as (
    select
        game_date,
        feature_name,
        avg(value_change) as mean_change
    from side_changes
    where value_change is not null
    group by game_date, feature_name
),

daily_changes as (
    select
        player_daily_changes.game_date,
        player_daily_changes.feature_name,
        player_daily_changes.mean_change,
        side_daily_changes.mean_change as mean_side_change
    from player_daily_changes
    left join side_daily_changes
        on
            player_daily_changes.game_date = side_daily_changes.game_date
            and player_daily_changes.feature_name = side_daily_changes.feature_name
),

-- The distribution of a (date, feature) as distinct values with their counts: equal values are
-- handled once, ties stay together.
value_counts as (
    select
        game_date,
        feature_name,
        feature_value,
        sum(value_count) as value_count
    from team_values
    group by game_date, feature_name, feature_value
),

-- Phase of each date (regular season or playoffs) from the schedule: the playoffs are compared with
-- the playoffs only (fewer, better teams, no back-to-backs, every game a playoff game).
schedule_phase as (
    select
        game_date,
        max(case when is_playoffs then 1 else 0 end) as is_playoffs
    from {{ ref('stg_nba_raw__schedule') }}
    where {{ window_filter('game_date', lookback_days) }}
    group by game_date
),

-- Game days: the dates the store has computed rows for, numbered in order within their phase.
game_days as (
    select
        dates.game_date,
        coalesce(schedule_phase.is_playoffs, 0) as is_playoffs,
        row_number() over (partition by coalesce(schedule_phase.is_playoffs, 0) order by dates.game_date) as day_number
    from (select distinct store_rows.game_date from store_rows) as dates
    left join schedule_phase on dates.game_date = schedule_phase.game_date
),

-- The reference of date D: the previous N game days of its phase, none more than the lookback
-- before D (so a season's first dates, and its first playoff dates, have a short reference, and
-- none reaches into the previous season).
reference_days as (
    select
        target_day.game_date,
        reference_day.game_date as reference_date
    from game_days as target_day
    inner join game_days as reference_day
        on
            target_day.is_playoffs = reference_day.is_playoffs
            and reference_day.day_number between target_day.day_number - {{ reference_game_days }} and target_day.day_number - 1
            and reference_day.game_date >= {{ date_add_days('target_day.game_date', -lookback_days) }}
    where {{ window_filter('target_day.game_date') }}
),

-- How a feature's observations are counted, from its reference: a team-level feature (one value
-- per team side on every reference day: a team's pace, its opponent's rating, its rest) counts
-- its team sides; any other feature its players.
reference_kind as (
    select
        reference_days.game_date,
        independent_values.feature_name,
        sum(independent_values.pair_count) = sum(independent_values.team_count) as is_team_level
    from reference_days
    inner join independent_values on reference_days.reference_date = independent_values.game_date
    group by reference_days.game_date, independent_values.feature_name
),

-- The current sample of (D, feature): D, pooled with the game days just before it (same phase, at
-- most pool_game_days in all) while the days already taken hold fewer than pool_min_sample
-- independent observations. A player-level feature is judged on D alone; a team-level feature on a
-- slate of a few teams takes the previous days, so a broken feature fills its sample within
-- pool_game_days game days.
pool_candidates as (
    select
        target_day.game_date,
        independent_values.feature_name,
        pool_day.game_date as pool_date,
        case when reference_kind.is_team_level then independent_values.pair_count else independent_values.player_count end
            as sample_size,
        coalesce(sum(
            case when reference_kind.is_team_level then independent_values.pair_count else independent_values.player_count end
        ) over (
            partition by target_day.game_date, independent_values.feature_name
            order by pool_day.game_date desc rows between unbounded preceding and 1 preceding
        ), 0) as sample_after
    from game_days as target_day
    inner join game_days as pool_day
        on
            target_day.is_playoffs = pool_day.is_playoffs
            and pool_day.day_number between target_day.day_number - {{ pool_game_days - 1 }} and target_day.day_number
            and pool_day.game_date >= {{ date_add_days('target_day.game_date', -lookback_days) }}
    inner join independent_values on pool_day.game_date = independent_values.game_date
    left join reference_kind
        on target_day.game_date = reference_kind.game_date and independent_values.feature_name = reference_kind.feature_name
    where {{ window_filter('target_day.game_date') }}
),

pool_days as (
    select
        game_date,
        feature_name,
        pool_date,
        sample_size,
        sample_after
    from pool_candidates
    where sample_after < {{ typed_var('feature_health_pool_min_sample') }}
),

pooled_counts as (
    select
        pool_days.game_date,
        pool_days.feature_name,
        value_counts.feature_value,
        sum(value_counts.value_count) as value_count
    from pool_days
    inner join value_counts
        on pool_days.pool_date = value_counts.game_date and pool_days.feature_name = value_counts.feature_name
    group by pool_days.game_date, pool_days.feature_name, value_counts.feature_value
),

-- Size, moments and range of the current sample.
pooled_moments as (
    select
        game_date,
        feature_name,
        sum(value_count) as pooled_values,
        sum(feature_value * value_count) / sum(value_count) as pooled_mean
    from pooled_counts
    group by game_date, feature_name
),

pooled_sizes as (
    select
        game_date,
        feature_name,
        count(*) as pooled_game_days,
        sum(sample_size) as sample_size
    from pool_days
    group by game_date, feature_name
),

pooled_summary as (
    select
        pooled_moments.*,
        pooled_sizes.pooled_game_days,
        pooled_sizes.sample_size
    from pooled_moments
    inner join pooled_sizes
        on pooled_moments.game_date = pooled_sizes.game_date and pooled_moments.feature_name = pooled_sizes.feature_name
),

-- Counts and moments of every date read (the window's dates and their reference days).
daily as (
    select
        game_date,
        feature_name,
        count(*) as players,
        sum(case when feature_source = 'phase4' then 1 else 0 end) as phase4_count,
        sum(case when feature_source = 'phase3' then 1 else 0 end) as phase3_count,
        sum(case when feature_source = 'calculated' then 1 else 0 end) as calculated_count,
        sum(case when feature_source = 'market' then 1 else 0 end) as market_count,
        sum(case when feature_source = 'default' then 1 else 0 end) as default_count,
        sum(case when feature_value is null then 1 else 0 end) as null_count,
        sum(case when {{ is_nan('feature_value') }} then 1 else 0 end) as nan_count,
        sum(case when feature_value is not null and not {{ is_nan('feature_value') }} then 1 else 0 end) as value_count,
        avg(case when not {{ is_nan('feature_value') }} then feature_value end) as mean_value,
        stddev_samp(case when not {{ is_nan('feature_value') }} then feature_value end) as std_value,
        min(case when not {{ is_nan('feature_value') }} then feature_value end) as min_value,
        max(case when not {{ is_nan('feature_value') }} then feature_value end) as max_value
    from feature_values
    group by game_date, feature_name
),

-- A constant's run: the game days of the pool window (D and the pool_game_days - 1 before it, same
-- phase) back from D that hold D's single value only, and their observations. A feature frozen at a
-- value its reference holds 99 times in 100 is plausible on one slate, not on three.
constant_days as (
    select
        pool_candidates.game_date,
        pool_candidates.feature_name,
        pool_candidates.sample_size,
        sum(case
            when
                pool_daily.min_value = pool_daily.max_value and pool_daily.min_value = target_daily.min_value
                and pool_daily.null_count + pool_daily.nan_count = 0
                then 0
            else 1
        end) over (
            partition by pool_candidates.game_date, pool_candidates.feature_name
            order by pool_candidates.pool_date desc rows between unbounded preceding and current row
        ) as breaks
    from pool_candidates
    inner join daily as target_daily
        on pool_candidates.game_date = target_daily.game_date and pool_candidates.feature_name = target_daily.feature_name
    inner join daily as pool_daily
        on pool_candidates.pool_date = pool_daily.game_date and pool_candidates.feature_name = pool_daily.feature_name
    where target_daily.min_value = target_daily.max_value
),

constant_runs as (
    select
        game_date,
        feature_name,
        sum(sample_size) as run_size
    from constant_days
    where breaks = 0
    group by game_date, feature_name
),

-- Lower quantiles of the date: the smallest value with at least 10 / 50 / 90 % of the values at or below it.
own_cumulative as (
    select
        game_date,
        feature_name,
        feature_value,
        sum(value_count) over (
            partition by game_date, feature_name order by feature_value rows between unbounded preceding and current row
        ) as count_at_or_below,
        sum(value_count) over (partition by game_date, feature_name) as value_total
    from value_counts
    where {{ window_filter('game_date') }}
),


own_quantiles as (
    select
        game_date,
        feature_name,
        min(case when count_at_or_below * 10 >= value_total then feature_value end) as p10_value,
        min(case when count_at_or_below * 2 >= value_total then feature_value end) as p50_value,
        min(case when count_at_or_below * 10 >= value_total * 9 then feature_value end) as p90_value
    from own_cumulative
    group by game_date, feature_name
),

-- The reference distribution of each (date, feature), pooled over its reference days.
reference_counts as (
    select
        reference_days.game_date,
        value_counts.feature_name,
        value_counts.feature_value,
        sum(value_counts.value_count) as value_count
    from reference_days
    inner join value_counts on reference_days.reference_date = value_counts.game_date
    group by reference_days.game_date, value_counts.feature_name, value_counts.feature_value
),

reference_cumulative as (
    select
        game_date,
        feature_name,
        feature_value,
        value_count,
        sum(value_count) over (
            partition by game_date, feature_name order by feature_value rows between unbounded preceding and current row
        ) as count_at_or_below,
        sum(value_count) over (partition by game_date, feature_name) as reference_values,
        count(*) over (partition by game_date, feature_name) as reference_distinct_values
    from reference_counts
),

-- Schedule facts. Values per (date, feature, schedule context: own and opponent rest days). A
-- feature is a schedule fact at date D when every context of D's reference holds one value and the
-- contexts do not all hold the same one (back_to_back, rest_advantage): derived from the reference,
-- never listed. On D, a row whose value differs from the one its context holds in the reference
-- disagrees with the schedule; a clean store has none.
context_counts as (
    select
        game_date,
        feature_name,
        context_key,
        feature_value,
        count(*) as value_count
    from feature_values
    where feature_value is not null and not {{ is_nan('feature_value') }}
    group by game_date, feature_name, context_key, feature_value
),

reference_contexts as (
    select
        reference_days.game_date,
        context_counts.feature_name,
        context_counts.context_key,
        min(context_counts.feature_value) as context_value,
        min(context_counts.feature_value) = max(context_counts.feature_value) as is_single,
        sum(context_counts.feature_value * context_counts.value_count) as context_sum,
        sum(context_counts.value_count) as context_count
    from reference_days
    inner join context_counts on reference_days.reference_date = context_counts.game_date
    group by reference_days.game_date, context_counts.feature_name, context_counts.context_key
),

schedule_facts as (
    select
        game_date,
        feature_name,
        min(case when is_single then 1 else 0 end) = 1 and min(context_value) < max(context_value) as is_schedule_fact
    from reference_contexts
    group by game_date, feature_name
),

schedule_mismatches as (
    select
        context_counts.game_date,
        context_counts.feature_name,
        sum(
            case when context_counts.feature_value = reference_contexts.context_value then 0 else context_counts.value_count end
        ) as mismatch_count
    from context_counts
    inner join reference_contexts
        on
            context_counts.game_date = reference_contexts.game_date
            and context_counts.feature_name = reference_contexts.feature_name
            and context_counts.context_key = reference_contexts.context_key
    where {{ window_filter('context_counts.game_date') }}
    group by context_counts.game_date, context_counts.feature_name
),

-- The mean in the same schedule contexts. The slate's schedule moves a feature's daily mean (a
-- slate of back-to-backs is more tired): a day's mean is judged against the reference's means of
-- the contexts its rows are in, as a residual (its values minus their context's reference mean,
-- averaged). The mean a day is held to leaves that day's own values out (a reference day is not
-- judged against itself), and rows in a context no other reference day holds are left out. The
-- reference days' residuals give how far a day moves by itself.
context_sums as (
    select
        game_date,
        feature_name,
        context_key,
        sum(feature_value * value_count) as value_sum,
        sum(value_count) as value_count
    from context_counts
    group by game_date, feature_name, context_key
),

reference_residuals as (
    select
        reference_days.game_date,
        context_sums.feature_name,
        reference_days.reference_date,
        sum(
            context_sums.value_sum - context_sums.value_count
            * (reference_contexts.context_sum - context_sums.value_sum) / (reference_contexts.context_count - context_sums.value_count)
        ) / sum(context_sums.value_count) as residual
    from reference_days
    inner join context_sums on reference_days.reference_date = context_sums.game_date
    inner join reference_contexts
        on
            reference_days.game_date = reference_contexts.game_date
            and context_sums.feature_name = reference_contexts.feature_name
            and context_sums.context_key = reference_contexts.context_key
    where reference_contexts.context_count > context_sums.value_count
    group by reference_days.game_date, context_sums.feature_name, reference_days.reference_date
),

reference_residual_spread as (
    select
        game_date,
        feature_name,
        avg(residual) as residual_mean,
        round(stddev_samp(residual), 9) as residual_std
    from reference_residuals
    group by game_date, feature_name
),

-- The pooled days' values per context, with the part D's reference already holds (a pooled day
-- before D is one of its reference days).
pooled_context_sums as (
    select
        pool_days.game_date,
        pool_days.feature_name,
        context_sums.context_key,
        context_sums.value_sum,
        context_sums.value_count,
        case when reference_days.reference_date is null then 0 else context_sums.value_sum end as reference_value_sum,
        case when reference_days.reference_date is null then 0 else context_sums.value_count end as reference_value_count
    from pool_days
    inner join context_sums
        on pool_days.pool_date = context_sums.game_date and pool_days.feature_name = context_sums.feature_name
    left join reference_days
        on pool_days.game_date = reference_days.game_date and pool_days.pool_date = reference_days.reference_date
),

pooled_residuals as (
    select
        pooled_context_sums.game_date,
        pooled_context_sums.feature_name,
        sum(
            pooled_context_sums.value_sum - pooled_context_sums.value_count
            * (reference_contexts.context_sum - pooled_context_sums.reference_value_sum)
            / (reference_contexts.context_count - pooled_context_sums.reference_value_count)
        ) / sum(pooled_context_sums.value_count) as residual
    from pooled_context_sums
    inner join reference_contexts
        on
            pooled_context_sums.game_date = reference_contexts.game_date
            and pooled_context_sums.feature_name = reference_contexts.feature_name
            and pooled_context_sums.context_key = reference_contexts.context_key
    where reference_contexts.context_count > pooled_context_sums.reference_value_count
    group by pooled_context_sums.game_date, pooled_context_sums.feature_name
),

-- Bin edges. A discrete feature (at most 10 distinct values in the reference) is binned by value:
-- every reference value is a closed edge (its own bin), with an open edge just below it, so values
-- between (or beyond) the reference's values, a shifted discrete feature, fall in bins the
-- reference leaves empty. Otherwise the reference's deciles (lower quantiles): a value is
-- an edge when it is the first to reach k/10 of the reference for some k in 1..9; deciles that fall
-- on the same value are one edge (ties merged). Each edge closes a bin (previous edge, edge]; a
-- last bin takes the values above.
reference_edges as (
    select
        game_date,
        feature_name,
        feature_value as edge,
        true as is_closed,
        count_at_or_below * 1.0 / reference_values as reference_share_at_or_below
    from reference_cumulative
    where
        reference_values >= {{ typed_var('feature_health_min_reference_values') }}
        and (
            reference_distinct_values <= 10
            or (
                least(floor(count_at_or_below * 10.0 / reference_values), 9) >= 1
                and least(floor(count_at_or_below * 10.0 / reference_values), 9) * reference_values
                > (count_at_or_below - value_count) * 10
            )
        )
    union all
    -- a discrete feature's values between (and below) its reference values have bins of their own
    select
        game_date,
        feature_name,
        feature_value as edge,
        false as is_closed,
        (count_at_or_below - value_count) * 1.0 / reference_values as reference_share_at_or_below
    from reference_cumulative
    where
        reference_values >= {{ typed_var('feature_health_min_reference_values') }}
        and reference_distinct_values <= 10
),

edge_shares as (
    select
        reference_edges.game_date,
        reference_edges.feature_name,
        reference_edges.edge,
        reference_edges.is_closed,
        reference_edges.reference_share_at_or_below,
        coalesce(sum(pooled_counts.value_count), 0) as own_count_at_or_below
    from reference_edges
    left join pooled_counts
        on
            reference_edges.game_date = pooled_counts.game_date
            and reference_edges.feature_name = pooled_counts.feature_name
            and (
                reference_edges.edge > pooled_counts.feature_value
                or (reference_edges.is_closed and reference_edges.edge = pooled_counts.feature_value)
            )
    group by
        reference_edges.game_date,
        reference_edges.feature_name,
        reference_edges.edge,
        reference_edges.is_closed,
        reference_edges.reference_share_at_or_below
),

-- Cumulative shares at each bin's upper edge; the last bin (above the last edge) ends at 1.
bin_bounds as (
    select
        edge_shares.game_date,
        edge_shares.feature_name,
        row_number() over (
            partition by edge_shares.game_date, edge_shares.feature_name order by edge_shares.edge, edge_shares.is_closed
        ) as bin_number,
        edge_shares.reference_share_at_or_below as reference_cumulative_share,
        edge_shares.own_count_at_or_below * 1.0 / own.pooled_values as own_cumulative_share
    from edge_shares
    inner join pooled_summary as own
        on edge_shares.game_date = own.game_date and edge_shares.feature_name = own.feature_name
    union all
    select distinct
        reference_edges.game_date,
        reference_edges.feature_name,
        100 as bin_number,
        1.0 as reference_cumulative_share,
        1.0 as own_cumulative_share
    from reference_edges
    inner join pooled_summary
        on reference_edges.game_date = pooled_summary.game_date and reference_edges.feature_name = pooled_summary.feature_name
),

bins as (
    select
        game_date,
        feature_name,
        greatest(
            own_cumulative_share
            - coalesce(lag(own_cumulative_share) over (partition by game_date, feature_name order by bin_number), 0),
            {{ typed_var('feature_health_psi_floor') }}
        ) as own_share,
        greatest(
            reference_cumulative_share
            - coalesce(lag(reference_cumulative_share) over (partition by game_date, feature_name order by bin_number), 0),
            {{ typed_var('feature_health_psi_floor') }}
        ) as reference_share
    from bin_bounds
),

psi as (
    select
        game_date,
        feature_name,
        count(*) as psi_bins,
        sum((own_share - reference_share) * ln(own_share / reference_share)) as psi
    from bins
    group by game_date, feature_name
),

-- The reference's summary: its window, default share, mean, and the day-to-day spread of its
-- daily means and mean changes (how far one game day moves by itself; rounded to 9 decimals, so
-- the float noise of a spread that is really 0 is 0).
reference_summary as (
    select
        reference_days.game_date,
        daily_reference.feature_name,
        min(reference_days.reference_date) as reference_start_date,
        max(reference_days.reference_date) as reference_end_date,
        count(*) as reference_game_days,
        sum(daily_reference.players) as reference_rows,
        sum(daily_reference.default_count) * 1.0 / sum(daily_reference.players) as reference_default_share,
        sum(daily_reference.mean_value * daily_reference.value_count) / sum(daily_reference.value_count) as reference_mean,
        round(stddev_samp(daily_reference.mean_value), 9) as reference_daily_mean_std,
        avg(reference_changes.mean_change) as reference_mean_change,
        round(stddev_samp(reference_changes.mean_change), 9) as reference_change_std,
        avg(reference_changes.mean_side_change) as reference_mean_side_change,
        round(stddev_samp(reference_changes.mean_side_change), 9) as reference_side_change_std
    from reference_days
    inner join daily as daily_reference
        on reference_days.reference_date = daily_reference.game_date
    left join daily_changes as reference_changes
        on
            reference_days.reference_date = reference_changes.game_date
            and daily_reference.feature_name = reference_changes.feature_name
    group by reference_days.game_date, daily_reference.feature_name
),

measured as (
    select
        daily.game_date,
        daily.feature_name,
        daily.players,
        daily.phase4_count * 1.0 / daily.players as phase4_share,
        daily.phase3_count * 1.0 / daily.players as phase3_share,
        daily.calculated_count * 1.0 / daily.players as calculated_share,
        daily.market_count * 1.0 / daily.players as market_share,
        daily.default_count * 1.0 / daily.players as default_share,
        daily.null_count,
        daily.nan_count,
        daily.mean_value,
        daily.std_value,
        daily.min_value,
        own_quantiles.p10_value,
        own_quantiles.p50_value,
        own_quantiles.p90_value,
        daily.max_value,
        reference_summary.reference_start_date,
        reference_summary.reference_end_date,
        coalesce(reference_summary.reference_game_days, 0) as reference_game_days,
        reference_summary.reference_default_share,
        daily.default_count * 1.0 / daily.players - reference_summary.reference_default_share as default_share_change,
        pooled_summary.pooled_game_days,
        pooled_summary.sample_size,
        psi.psi_bins,
        psi.psi,
        -- the current sample's mean against the reference's, in standard errors of a sample of that
        -- many game days (the day-to-day spread / sqrt(days)): against the reference's means of the
        -- same schedule contexts when that makes the reference days' own spread smaller (the
        -- schedule moves the feature), otherwise against the reference's mean
        case
            when reference_residual_spread.residual_std < reference_summary.reference_daily_mean_std
                then
                    (pooled_residuals.residual - reference_residual_spread.residual_mean)
                    / nullif(reference_residual_spread.residual_std / sqrt(pooled_summary.pooled_game_days), 0)
            else (pooled_summary.pooled_mean - reference_summary.reference_mean)
                / nullif(reference_summary.reference_daily_mean_std / sqrt(pooled_summary.pooled_game_days), 0)
        end as drift_z,
        -- the date's mean change per player (since his previous game day) against the reference's
        -- daily mean changes, in their standard deviations: a shift of every value is a jump
        -- (the player's and the team side's change; change_z is the one further out)
        (daily_changes.mean_change - reference_summary.reference_mean_change)
        / nullif(reference_summary.reference_change_std, 0) as player_change_z,
        (daily_changes.mean_side_change - reference_summary.reference_mean_side_change)
        / nullif(reference_summary.reference_side_change_std, 0) as side_change_z,
        -- (a schedule fact at one value is judged by the schedule: right where the schedule says so)
        coalesce(
            daily.value_count >= {{ typed_var('feature_health_constant_min_players') }} and daily.min_value = daily.max_value
            and not schedule_facts.is_schedule_fact, false
        ) as is_constant,
        -- how likely the reference makes the constant: ln(share of its value in the reference) times
        -- the observations of its run (the game days back from D holding that one value only)
        ln(greatest(
            coalesce(constant_reference.value_count * 1.0 / constant_reference.reference_values, 0),
            {{ typed_var('feature_health_psi_floor') }}
        )) * constant_runs.run_size as constant_log_chance,
        coalesce(schedule_facts.is_schedule_fact, false) as is_schedule_fact,
        schedule_mismatches.mismatch_count as schedule_mismatch_count
    from daily
    left join own_quantiles
        on daily.game_date = own_quantiles.game_date and daily.feature_name = own_quantiles.feature_name
    left join reference_summary
        on daily.game_date = reference_summary.game_date and daily.feature_name = reference_summary.feature_name
    left join psi
        on daily.game_date = psi.game_date and daily.feature_name = psi.feature_name
    left join pooled_summary
        on daily.game_date = pooled_summary.game_date and daily.feature_name = pooled_summary.feature_name
    left join pooled_residuals
        on daily.game_date = pooled_residuals.game_date and daily.feature_name = pooled_residuals.feature_name
    left join reference_residual_spread
        on daily.game_date = reference_residual_spread.game_date and daily.feature_name = reference_residual_spread.feature_name
    left join daily_changes
        on daily.game_date = daily_changes.game_date and daily.feature_name = daily_changes.feature_name
    left join constant_runs
        on daily.game_date = constant_runs.game_date and daily.feature_name = constant_runs.feature_name
    left join schedule_facts
        on daily.game_date = schedule_facts.game_date and daily.feature_name = schedule_facts.feature_name
    left join schedule_mismatches
        on daily.game_date = schedule_mismatches.game_date and daily.feature_name = schedule_mismatches.feature_name
    left join reference_cumulative as constant_reference
        on
            daily.game_date = constant_reference.game_date
            and daily.feature_name = constant_reference.feature_name
            and daily.min_value = constant_reference.feature_value
    where {{ window_filter('daily.game_date') }}
),

-- The checks, each with the cause it names; the status is the worst level reached.
checked as (
    select
        *,
        case
            when abs(coalesce(player_change_z, 0)) >= abs(coalesce(side_change_z, 0)) then player_change_z
            else side_change_z
        end as change_z,
        null_count + nan_count > 0 as alert_null,
        coalesce(default_share_change >= {{ typed_var('feature_health_default_jump_alert') }}, false) as alert_default,
        -- a constant is an alert when its reference makes it implausible (chance below
        -- constant_max_chance); a plausible one, or one without a reference, is a warn
        coalesce(is_constant and reference_game_days > 0 and constant_log_chance < ln({{ typed_var('feature_health_constant_max_chance') }}), false)
            as alert_constant,
        -- (a constant at the one value of its reference changed nothing: not a warn)
        is_constant and not coalesce(reference_game_days > 0 and constant_log_chance < ln({{ typed_var('feature_health_constant_max_chance') }}), false)
        and constant_log_chance < 0 as warn_constant,
        -- a schedule fact disagrees with the schedule on some row
        coalesce(is_schedule_fact and schedule_mismatch_count > 0, false) as alert_schedule,
        -- drift: the distribution moved (PSI) and its mean, or its players' values since their
        -- previous game day, moved beyond what the days of the reference move by themselves
        coalesce(
            psi > {{ typed_var('feature_health_psi_alert') }}
            and greatest(coalesce(abs(drift_z), 0), coalesce(abs(player_change_z), 0), coalesce(abs(side_change_z), 0)) >= {{ typed_var('feature_health_drift_z') }}, false
        ) as alert_drift,
        coalesce(default_share_change >= {{ typed_var('feature_health_default_jump_warn') }}, false) as warn_default,
        coalesce(
            psi >= {{ typed_var('feature_health_psi_warn') }}
            and greatest(coalesce(abs(drift_z), 0), coalesce(abs(player_change_z), 0), coalesce(abs(side_change_z), 0)) >= {{ typed_var('feature_health_drift_z') }}, false
        ) as warn_psi
    from measured
),

-- Each verdict under every version holding the feature, at its position there.
versioned as (
    select
        checked.*,
        version_features.feature_version,
        version_features.feature_index
    from checked
    inner join version_features on checked.feature_name = version_features.feature_name
),

final as (
    select
        game_date,
        feature_version,
        feature_name,
        feature_index,
        players,
        {{ to_numeric('phase4_share', 7, 4) }} as phase4_share,
        {{ to_numeric('phase3_share', 7, 4) }} as phase3_share,
        {{ to_numeric('calculated_share', 7, 4) }} as calculated_share,
        {{ to_numeric('market_share', 7, 4) }} as market_share,
        {{ to_numeric('default_share', 7, 4) }} as default_share,
        null_count,
        nan_count,
        mean_value,
        std_value,
        min_value,
        p10_value,
        p50_value,
        p90_value,
        max_value,
        reference_start_date,
        reference_end_date,
        reference_game_days,
        {{ to_numeric('reference_default_share', 7, 4) }} as reference_default_share,
        {{ to_numeric('default_share_change', 7, 4) }} as default_share_change,
        coalesce(pooled_game_days, 0) as pooled_game_days,
        coalesce(sample_size, 0) as sample_size,
        psi_bins,
        psi,
        psi is not null as psi_judged,
        drift_z,
        change_z,
        is_constant,
        case when is_schedule_fact then schedule_mismatch_count end as schedule_mismatches,
        case
            when alert_null or alert_default or alert_schedule or alert_constant or alert_drift then 'alert'
            when warn_default or warn_constant or warn_psi then 'warn'
            else 'ok'
        end as status,
        nullif(rtrim(concat(
            case when alert_null then 'null_or_nan, ' else '' end,
            case when alert_default then 'default_share_jump, ' else '' end,
            case when alert_schedule then 'schedule_mismatch, ' else '' end,
            case when alert_constant then 'constant_feature, ' else '' end,
            case when alert_drift then 'psi_alert, ' else '' end,
            case
                when not (alert_null or alert_default or alert_schedule or alert_constant or alert_drift) and warn_default then 'default_share_rise, '
                else ''
            end,
            case
                when not (alert_null or alert_default or alert_schedule or alert_constant or alert_drift) and warn_constant then 'constant_feature_persisting, '
                else ''
            end,
            case
                when not (alert_null or alert_default or alert_schedule or alert_constant or alert_drift) and warn_psi then 'psi_warn, '
                else ''
            end
        ), ', '), '') as cause
    from versioned
)

select
    *,
    {{ write_timestamps() }}
from final
