{{
  config(
    unique_key=['player_lookup', 'cache_date'],
    window_column='cache_date',
    partition_by={'field': 'cache_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['player_lookup', 'universal_player_id'],
  )
}}
-- Rolling player statistics cached per date for every upcoming-context player with at least 5
-- played games in the season before D (legacy PDC; docs/decisions.md#point-in-time, #unbounded-windows,
-- #who-gets-a-row).
with slate as (
    select
        *,
        early_season_flag as is_early_season_date
    from {{ ref('int_upcoming_player_slate') }}
),

player_state as (
    select
        slate.*,
        rolling.games_played_season,
        rolling.points_avg_last_5,
        rolling.points_avg_last_10,
        rolling.points_std_last_10,
        rolling.minutes_avg_last_10,
        rolling.usage_rate_last_10,
        rolling.ts_pct_last_10,
        rolling.assisted_fg_makes_10,
        rolling.fg_makes_10,
        rolling.points_avg_season,
        rolling.usage_rate_season,
        rolling.source_last_updated as player_game_last_updated,
        rolling.source_hash as player_game_hash
    from slate
    inner join {{ ref('int_player_games_played__season_rolling') }} as rolling
        on
            slate.player_lookup = rolling.player_lookup
            and slate.season_year = rolling.season_year
            and slate.game_date > rolling.game_date
            and (rolling.valid_until is null or slate.game_date <= rolling.valid_until)
    where rolling.games_played_season >= 5
),

l5 as ({{ player_games_completeness('player_state', 5) }}
),

l10 as ({{ player_games_completeness('player_state', 10) }}
),

l7d as ({{ player_days_completeness('player_state', 7) }}
),

l14d as ({{ player_days_completeness('player_state', 14) }}
),

joined as (
    select
        player_state.*,
        team.pace_last_10 as team_pace,
        team.off_rating_last_10 as team_off_rating,
        team.games_in_sample as team_rows_found,
        team.source_last_updated as team_offense_last_updated,
        team.source_hash as team_offense_hash,
        shot_zone.primary_scoring_zone,
        shot_zone.paint_rate_last_10 as shot_zone_paint_rate,
        shot_zone.three_pt_rate_last_10 as shot_zone_three_pt_rate,
        shot_zone.is_production_ready as shot_zone_ready,
        shot_zone.processed_at as shot_zone_last_updated,
        shot_zone.data_hash as shot_zone_data_hash,
        l5.expected_games as l5_expected,
        l5.actual_games as l5_actual,
        {{ completeness_pct('l5.actual_games', 'l5.expected_games') }} as l5_pct,
        {{ completeness_pct('l10.actual_games', 'l10.expected_games') }} as l10_pct,
        {{ completeness_pct('l7d.actual_games', 'l7d.expected_games') }} as l7d_pct,
        {{ completeness_pct('l14d.actual_games', 'l14d.expected_games') }} as l14d_pct,
        {{ is_complete('l5.actual_games', 'l5.expected_games') }} as l5_ready,
        {{ is_complete('l10.actual_games', 'l10.expected_games') }} as l10_ready,
        {{ is_complete('l7d.actual_games', 'l7d.expected_games') }} as l7d_ready,
        {{ is_complete('l14d.actual_games', 'l14d.expected_games') }} as l14d_ready
    from player_state
    left join {{ ref('int_team_offense__rolling') }} as team
        on
            player_state.team_abbr = team.team_abbr
            and player_state.game_date > team.game_date
            and (team.valid_until is null or player_state.game_date <= team.valid_until)
    left join {{ ref('player_shot_zone_analysis') }} as shot_zone
        on
            player_state.player_lookup = shot_zone.player_lookup
            and player_state.game_date = shot_zone.analysis_date
    inner join l5 on player_state.player_lookup = l5.player_lookup and player_state.game_date = l5.game_date
    inner join l10 on player_state.player_lookup = l10.player_lookup and player_state.game_date = l10.game_date
    inner join l7d on player_state.player_lookup = l7d.player_lookup and player_state.game_date = l7d.game_date
    inner join l14d on player_state.player_lookup = l14d.player_lookup and player_state.game_date = l14d.game_date
),

flags as (
    select
        *,
        l5_ready and l10_ready and l7d_ready and l14d_ready as all_windows_ready,
        is_early_season_date or games_played_season < 10 as is_early_season
    from joined
),

final as (
    select
        player_lookup,
        universal_player_id,
        game_date as cache_date,
        {{ to_numeric('points_avg_last_5', 5, 1) }} as points_avg_last_5,
        {{ to_numeric('points_avg_last_10', 5, 1) }} as points_avg_last_10,
        {{ to_numeric('points_avg_season', 5, 1) }} as points_avg_season,
        {{ to_numeric('points_std_last_10', 5, 2) }} as points_std_last_10,
        {{ to_numeric('minutes_avg_last_10', 5, 1) }} as minutes_avg_last_10,
        {{ to_numeric('usage_rate_last_10', 5, 2) }} as usage_rate_last_10,
        {{ to_numeric('ts_pct_last_10', 5, 3) }} as ts_pct_last_10,
        games_played_season,
        {{ to_numeric('team_pace', 5, 1) }} as team_pace_last_10,
        {{ to_numeric('team_off_rating', 6, 2) }} as team_off_rating_last_10,
        {{ to_numeric('usage_rate_season', 5, 2) }} as player_usage_rate_season,
        games_in_last_7_days,
        games_in_last_14_days,
        minutes_in_last_7_days,
        minutes_in_last_14_days,
        back_to_backs_last_14_days,
        {{ to_numeric('avg_minutes_per_game_last_7', 5, 1) }} as avg_minutes_per_game_last_7,
        fourth_quarter_minutes_last_7,
        primary_scoring_zone,
        shot_zone_paint_rate as paint_rate_last_10,
        shot_zone_three_pt_rate as three_pt_rate_last_10,
        {{ to_numeric(safe_divide('assisted_fg_makes_10', 'fg_makes_10'), 5, 2) }} as assisted_rate_last_10,
        player_age,
        player_game_last_updated as source_player_game_last_updated,
        games_played_season as source_player_game_rows_found,
        {{ to_numeric('l10_pct', 5, 2) }} as source_player_game_completeness_pct,
        player_game_hash as source_player_game_hash,
        team_offense_last_updated as source_team_offense_last_updated,
        coalesce(team_rows_found, 0) as source_team_offense_rows_found,
        {{ to_numeric('least(100.0, 100.0 * coalesce(team_rows_found, 0) / 10)', 5, 2) }} as source_team_offense_completeness_pct,
        team_offense_hash as source_team_offense_hash,
        processed_at as source_upcoming_context_last_updated,
        1 as source_upcoming_context_rows_found,
        {{ to_numeric('100.0', 5, 2) }} as source_upcoming_context_completeness_pct,
        {{ fingerprint_one('data_hash') }} as source_upcoming_context_hash,
        shot_zone_last_updated as source_shot_zone_last_updated,
        case when shot_zone_data_hash is not null then 1 else 0 end as source_shot_zone_rows_found,
        {{ to_numeric('case when shot_zone_data_hash is not null then 100.0 else 0.0 end', 5, 2) }} as source_shot_zone_completeness_pct,
        {{ fingerprint_one('shot_zone_data_hash') }} as source_shot_zone_hash,
        is_early_season as early_season_flag,
        case
            when games_played_season < 10
                then 'Only ' || cast(games_played_season as {{ dbt.type_string() }}) || ' games played, need 10 minimum'
            when is_early_season_date then 'early_season_skip_first_14_days'
        end as insufficient_data_reason,
        l5_expected as expected_games_count,
        l5_actual as actual_games_count,
        cast(l5_pct as {{ type_float64() }}) as completeness_percentage,
        greatest(l5_expected - l5_actual, 0) as missing_games_count,
        all_windows_ready and is_production_ready and coalesce(shot_zone_ready, true) as is_production_ready,
        {{ string_array([
            "case when not all_windows_ready then 'own_data_incomplete' end",
            "case when not is_production_ready then 'upstream_player_context_incomplete' end",
            "case when not coalesce(shot_zone_ready, true) then 'upstream_player_shot_zone_incomplete' end",
        ]) }} as data_quality_issues,
        season_boundary_detected,
        backfill_bootstrap_mode,
        'processed_successfully' as processing_decision_reason,
        cast(l5_pct as {{ type_float64() }}) as l5_completeness_pct,
        cast(l10_pct as {{ type_float64() }}) as l10_completeness_pct,
        cast(l7d_pct as {{ type_float64() }}) as l7d_completeness_pct,
        cast(l14d_pct as {{ type_float64() }}) as l14d_completeness_pct,
        l5_ready as l5_is_complete,
        l10_ready as l10_is_complete,
        l7d_ready as l7d_is_complete,
        l14d_ready as l14d_is_complete,
        all_windows_ready as all_windows_complete,
        'v1' as cache_version
    from flags
)

select
    final.*,
    {{ write_timestamps() }}
from final
