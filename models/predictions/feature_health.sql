{{
  config(
    unique_key=['game_date', 'feature_name'],
    window_column='game_date',
    partitioned_by='game_date',
    partition_by={'field': 'game_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['feature_name', 'game_date'],
  )
}}
-- partitioned_by is for dbt-duckdb, which reads it before partition_by and rejects BigQuery's
-- partition_by dict; on a plain DuckDB file it only warns. partition_by is BigQuery's day partitioning.
{%- set reference_game_days = typed_var('feature_health_reference_game_days') -%}
{%- set lookback_days = typed_var('feature_health_lookback_days') -%}
{%- set constant_allowed = typed_var('feature_health_constant_allowed') -%}
-- Health of every feature of ml_feature_store_v2 on every game date: provenance shares, NULL/NaN
-- counts, distribution, PSI against the feature's reference window, and a status with its cause
-- (docs/feature_health.md). One set-based pass for any window: the reference of a date is read from
-- the store over `feature_health_lookback_days` before the window.
with store_rows as (
    select
        game_date,
        player_lookup,
        opponent_team_abbr,
        is_home,
        feature_names,
        features,
        feature_sources
    from {{ ref('ml_feature_store_v2') }}
    where
        {{ window_filter('game_date', lookback_days) }}
        and not early_season_flag
),

feature_values as (
    {{ unnest_feature_store('store_rows') }}
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

independent_values as (
    select
        game_date,
        feature_name,
        count(*) as psi_sample_size
    from team_values
    where {{ window_filter('game_date') }}
    group by game_date, feature_name
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

-- Game days: the dates the store has computed rows for, numbered in order.
game_days as (
    select
        game_date,
        row_number() over (order by game_date) as day_number
    from (select distinct store_rows.game_date from store_rows) as dates
),

-- The reference of date D: the previous N game days, none more than the lookback before D (so a
-- season's first dates have a short reference, and none reaches into the previous season).
reference_days as (
    select
        target_day.game_date,
        reference_day.game_date as reference_date
    from game_days as target_day
    inner join game_days as reference_day
        on
            reference_day.day_number between target_day.day_number - {{ reference_game_days }} and target_day.day_number - 1
            and reference_day.game_date >= {{ date_add_days('target_day.game_date', -lookback_days) }}
    where {{ window_filter('target_day.game_date') }}
),

-- Counts and moments of every date read (the window's dates and their reference days).
daily as (
    select
        game_date,
        feature_name,
        min(feature_index) as feature_index,
        count(*) as players,
        sum(case when feature_source = 'phase4' then 1 else 0 end) as phase4_count,
        sum(case when feature_source = 'phase3' then 1 else 0 end) as phase3_count,
        sum(case when feature_source = 'calculated' then 1 else 0 end) as calculated_count,
        sum(case when feature_source = 'default' then 1 else 0 end) as default_count,
        sum(case when feature_value is null then 1 else 0 end) as null_count,
        sum(case when {{ is_nan('feature_value') }} then 1 else 0 end) as nan_count,
        avg(case when not {{ is_nan('feature_value') }} then feature_value end) as mean_value,
        stddev_samp(case when not {{ is_nan('feature_value') }} then feature_value end) as std_value,
        min(case when not {{ is_nan('feature_value') }} then feature_value end) as min_value,
        max(case when not {{ is_nan('feature_value') }} then feature_value end) as max_value
    from feature_values
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

own_totals as (
    select distinct
        game_date,
        feature_name,
        value_total
    from own_cumulative
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
        sum(value_count) over (partition by game_date, feature_name) as reference_values
    from reference_counts
),

-- Bin edges: the reference's deciles (lower quantiles). A value is an edge when it is the first to
-- reach k/10 of the reference for some k in 1..9; deciles that fall on the same value are one edge
-- (ties merged). Each edge closes a bin (previous edge, edge]; a last bin takes the values above.
reference_edges as (
    select
        game_date,
        feature_name,
        feature_value as edge,
        reference_values,
        count_at_or_below * 1.0 / reference_values as reference_share_at_or_below
    from reference_cumulative
    where
        reference_values >= {{ typed_var('feature_health_min_reference_values') }}
        and least(floor(count_at_or_below * 10.0 / reference_values), 9) >= 1
        and least(floor(count_at_or_below * 10.0 / reference_values), 9) * reference_values
        > (count_at_or_below - value_count) * 10
),

edge_shares as (
    select
        reference_edges.game_date,
        reference_edges.feature_name,
        reference_edges.edge,
        reference_edges.reference_share_at_or_below,
        coalesce(sum(value_counts.value_count), 0) as own_count_at_or_below
    from reference_edges
    left join value_counts
        on
            reference_edges.game_date = value_counts.game_date
            and reference_edges.feature_name = value_counts.feature_name
            and reference_edges.edge >= value_counts.feature_value
    group by
        reference_edges.game_date,
        reference_edges.feature_name,
        reference_edges.edge,
        reference_edges.reference_share_at_or_below
),

-- Cumulative shares at each bin's upper edge; the last bin (above the last edge) ends at 1.
bin_bounds as (
    select
        edge_shares.game_date,
        edge_shares.feature_name,
        row_number() over (partition by edge_shares.game_date, edge_shares.feature_name order by edge_shares.edge) as bin_number,
        edge_shares.reference_share_at_or_below as reference_cumulative_share,
        edge_shares.own_count_at_or_below * 1.0 / own.value_total as own_cumulative_share
    from edge_shares
    inner join own_totals as own
        on edge_shares.game_date = own.game_date and edge_shares.feature_name = own.feature_name
    union all
    select distinct
        reference_edges.game_date,
        reference_edges.feature_name,
        100 as bin_number,
        1.0 as reference_cumulative_share,
        1.0 as own_cumulative_share
    from reference_edges
    inner join own_totals
        on reference_edges.game_date = own_totals.game_date and reference_edges.feature_name = own_totals.feature_name
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

reference_summary as (
    select
        reference_days.game_date,
        daily_reference.feature_name,
        min(reference_days.reference_date) as reference_start_date,
        max(reference_days.reference_date) as reference_end_date,
        count(*) as reference_game_days,
        sum(daily_reference.players) as reference_rows,
        sum(daily_reference.default_count) * 1.0 / sum(daily_reference.players) as reference_default_share,
        min(daily_reference.min_value) as reference_min_value,
        max(daily_reference.max_value) as reference_max_value
    from reference_days
    inner join daily as daily_reference
        on reference_days.reference_date = daily_reference.game_date
    group by reference_days.game_date, daily_reference.feature_name
),

measured as (
    select
        daily.game_date,
        daily.feature_name,
        daily.feature_index,
        daily.players,
        daily.phase4_count * 1.0 / daily.players as phase4_share,
        daily.phase3_count * 1.0 / daily.players as phase3_share,
        daily.calculated_count * 1.0 / daily.players as calculated_share,
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
        psi.psi_bins,
        psi.psi,
        independent_values.psi_sample_size,
        reference_summary.reference_min_value,
        reference_summary.reference_max_value,
        coalesce(
            daily.players - daily.null_count - daily.nan_count >= {{ typed_var('feature_health_constant_min_players') }}
            and daily.min_value = daily.max_value
            {%- if constant_allowed %}
                and daily.feature_name not in ({% for name in constant_allowed %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor %})
            {%- endif %}, false
        ) as is_constant
    from daily
    left join own_quantiles
        on daily.game_date = own_quantiles.game_date and daily.feature_name = own_quantiles.feature_name
    left join reference_summary
        on daily.game_date = reference_summary.game_date and daily.feature_name = reference_summary.feature_name
    left join psi
        on daily.game_date = psi.game_date and daily.feature_name = psi.feature_name
    left join independent_values
        on daily.game_date = independent_values.game_date and daily.feature_name = independent_values.feature_name
    where {{ window_filter('daily.game_date') }}
),

-- PSI is judged (counts toward the status) on at least psi_min_sample independent observations:
-- below that a slate's handful of teams moves it past any threshold by chance.
judged as (
    select
        *,
        coalesce(psi is not null and psi_sample_size >= {{ typed_var('feature_health_psi_min_sample') }}, false) as psi_judged
    from measured
),

-- The checks, each with the cause it names; the status is the worst level reached.
checked as (
    select
        *,
        null_count + nan_count > 0 as alert_null,
        coalesce(default_share_change >= {{ typed_var('feature_health_default_jump_alert') }}, false) as alert_default,
        coalesce(psi_judged and psi > {{ typed_var('feature_health_psi_alert') }}, false) as alert_psi,
        -- a constant is an alert when the feature just turned constant: its reference had spread or
        -- another value; the same single value as the reference (or no reference) is a warn
        is_constant and coalesce(not (reference_min_value = min_value and reference_max_value = max_value), false)
            as alert_constant,
        is_constant and not coalesce(not (reference_min_value = min_value and reference_max_value = max_value), false)
            as warn_constant,
        coalesce(default_share_change >= {{ typed_var('feature_health_default_jump_warn') }}, false) as warn_default,
        coalesce(psi_judged and psi >= {{ typed_var('feature_health_psi_warn') }}, false) as warn_psi
    from judged
),

final as (
    select
        game_date,
        feature_name,
        feature_index,
        players,
        {{ to_numeric('phase4_share', 7, 4) }} as phase4_share,
        {{ to_numeric('phase3_share', 7, 4) }} as phase3_share,
        {{ to_numeric('calculated_share', 7, 4) }} as calculated_share,
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
        psi_bins,
        psi,
        coalesce(psi_sample_size, 0) as psi_sample_size,
        psi_judged,
        is_constant,
        case
            when alert_null or alert_default or alert_constant or alert_psi then 'alert'
            when warn_default or warn_constant or warn_psi then 'warn'
            else 'ok'
        end as status,
        nullif(rtrim(concat(
            case when alert_null then 'null_or_nan, ' else '' end,
            case when alert_default then 'default_share_jump, ' else '' end,
            case when alert_constant then 'constant_feature, ' else '' end,
            case when alert_psi then 'psi_alert, ' else '' end,
            case
                when not (alert_null or alert_default or alert_constant or alert_psi) and warn_default then 'default_share_rise, '
                else ''
            end,
            case
                when not (alert_null or alert_default or alert_constant or alert_psi) and warn_constant then 'constant_feature_persisting, '
                else ''
            end,
            case
                when not (alert_null or alert_default or alert_constant or alert_psi) and warn_psi then 'psi_warn, '
                else ''
            end
        ), ', '), '') as cause
    from checked
)

select
    *,
    {{ write_timestamps() }}
from final
