{{
  config(
    unique_key=['game_date', 'feature_version'],
    window_column='game_date',
    partition_by={'field': 'game_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['feature_version', 'game_date'],
  )
}}
-- One row per run date and store version: how much of the slate (the players of the upcoming context)
-- each version of the feature store covers, and how well. The readiness gate (test slate_is_ready)
-- reads it. The versions are those int_ml_feature_store_v2__versions holds.
with slate as (
    select
        game_date,
        count(*) as slate_players,
        max(case when early_season_flag then 1 else 0 end) = 1 as early_season_flag
    from {{ ref('int_upcoming_player_slate') }}
    where {{ window_filter('game_date') }}
    group by game_date
),

store_rows as (
    select
        game_date,
        feature_version,
        quality_tier,
        early_season_flag,
        is_training_ready,
        -- Phase 3 labels among version 1's 25 features, which every version starts with
        {{ array_count_equal('feature_sources', "'phase3'", 25) }} as phase3_features,
        default_feature_count
    from {{ ref('int_ml_feature_store_v2__versions') }}
    where {{ window_filter('game_date') }}
),

-- Every version the store holds (from all its rows: a version with no row in the window still gets
-- its coverage rows, with rows_written 0).
versions as (
    select
        store_version.feature_version,
        coalesce(released.active, false) as is_served_version
    from (select distinct feature_version from {{ ref('int_ml_feature_store_v2__versions') }}) as store_version
    left join {{ ref('feature_versions') }} as released on store_version.feature_version = released.feature_version
),

written as (
    select
        game_date,
        feature_version,
        count(*) as rows_written,
        sum(case when early_season_flag then 1 else 0 end) as placeholder_rows,
        sum(case when quality_tier = 'gold' then 1 else 0 end) as gold_rows,
        sum(case when quality_tier = 'silver' then 1 else 0 end) as silver_rows,
        sum(case when quality_tier = 'bronze' then 1 else 0 end) as bronze_rows,
        sum(case when quality_tier = 'poor' then 1 else 0 end) as poor_rows,
        sum(case when quality_tier = 'unusable' then 1 else 0 end) as unusable_rows,
        sum(case when is_training_ready then 1 else 0 end) as training_ready_rows,
        -- features 15-17 (game context) are Phase 3 on every row: a fallback is any further Phase 3 label
        sum(case when phase3_features > 3 then 1 else 0 end) as phase3_fallback_rows,
        sum(case when default_feature_count > 0 then 1 else 0 end) as default_rows,
        sum(case when phase3_features > 3 or default_feature_count > 0 then 1 else 0 end) as phase3_or_default_rows
    from store_rows
    group by game_date, feature_version
),

final as (
    select
        slate.game_date,
        versions.feature_version,
        versions.is_served_version,
        slate.early_season_flag,
        slate.slate_players,
        coalesce(written.rows_written, 0) as rows_written,
        coalesce(written.placeholder_rows, 0) as placeholder_rows,
        coalesce(written.gold_rows, 0) as gold_rows,
        coalesce(written.silver_rows, 0) as silver_rows,
        coalesce(written.bronze_rows, 0) as bronze_rows,
        coalesce(written.poor_rows, 0) as poor_rows,
        coalesce(written.unusable_rows, 0) as unusable_rows,
        coalesce(written.training_ready_rows, 0) as training_ready_rows,
        coalesce(written.phase3_fallback_rows, 0) as phase3_fallback_rows,
        coalesce(written.default_rows, 0) as default_rows,
        coalesce(written.phase3_or_default_rows, 0) as phase3_or_default_rows,
        case
            when not slate.early_season_flag
                then {{ to_numeric(safe_divide('coalesce(written.gold_rows, 0) + coalesce(written.silver_rows, 0)', 'slate.slate_players'), 7, 4) }}
        end as gold_silver_share
    from slate
    cross join versions
    left join written
        on slate.game_date = written.game_date and versions.feature_version = written.feature_version
)

select
    *,
    {{ write_timestamps() }}
from final
