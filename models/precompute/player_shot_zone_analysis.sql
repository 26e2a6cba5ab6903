{{
  config(
    unique_key=['player_lookup', 'analysis_date'],
    window_column='analysis_date',
    partition_by={'field': 'analysis_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['player_lookup', 'universal_player_id', 'analysis_date'],
  )
}}
-- Shot-zone profile of every player with at least 10 qualifying games in the season before D
-- (legacy PSZA; docs/decisions.md#point-in-time and #who-gets-a-row).
with run_dates as (
    select * from {{ ref('int_run_dates') }}
),

player_state as (
    -- As of D: the sums over the player's last 10 / 20 qualifying games of the season before D.
    select
        rolling.*,
        run_dates.game_date as analysis_date,
        run_dates.early_season_flag,
        run_dates.season_boundary_detected,
        run_dates.backfill_bootstrap_mode
    from run_dates
    inner join {{ ref('int_player_shot_zone__rolling') }} as rolling
        on
            run_dates.season_year = rolling.season_year
            and run_dates.game_date > rolling.game_date
            and (rolling.valid_until is null or run_dates.game_date <= rolling.valid_until)
    where rolling.game_number >= 10
),

player_team as (
    -- The player's team for D: his upcoming context on D, else the team of his latest game.
    select
        player_state.player_lookup,
        player_state.analysis_date as game_date,
        player_state.season_year,
        coalesce(slate.team_abbr, player_state.team_abbr) as team_abbr
    from player_state
    left join {{ ref('int_upcoming_player_slate') }} as slate
        on
            player_state.player_lookup = slate.player_lookup
            and player_state.analysis_date = slate.game_date
),

completeness as (
    {{ player_games_completeness('player_team', 10) }}
),

zone_metrics as (
    select
        player_state.*,
        player_state.paint_attempts_10 + player_state.mid_range_attempts_10 + player_state.three_pt_attempts_10
            as total_shots_10,
        player_state.paint_attempts_20 + player_state.mid_range_attempts_20 + player_state.three_pt_attempts_20
            as total_shots_20,
        completeness.expected_games,
        completeness.actual_games
    from player_state
    inner join completeness
        on
            player_state.player_lookup = completeness.player_lookup
            and player_state.analysis_date = completeness.game_date
),

rounded as (
    select
        player_lookup,
        universal_player_id,
        analysis_date,
        {{ to_numeric(safe_divide('100.0 * paint_attempts_10', 'total_shots_10'), 5, 2) }} as paint_rate_last_10,
        {{ to_numeric(safe_divide('100.0 * mid_range_attempts_10', 'total_shots_10'), 5, 2) }} as mid_range_rate_last_10,
        {{ to_numeric(safe_divide('100.0 * three_pt_attempts_10', 'total_shots_10'), 5, 2) }} as three_pt_rate_last_10,
        case when total_shots_10 > 0 then total_shots_10 end as total_shots_last_10,
        games_in_sample_10,
        {{ to_numeric(safe_divide('paint_makes_10', 'paint_attempts_10'), 5, 3) }} as paint_pct_last_10,
        {{ to_numeric(safe_divide('mid_range_makes_10', 'mid_range_attempts_10'), 5, 3) }} as mid_range_pct_last_10,
        {{ to_numeric(safe_divide('three_pt_makes_10', 'three_pt_attempts_10'), 5, 3) }} as three_pt_pct_last_10,
        {{ to_numeric(safe_divide('paint_attempts_10', 'games_in_sample_10'), 4, 1) }} as paint_attempts_per_game,
        {{ to_numeric(safe_divide('mid_range_attempts_10', 'games_in_sample_10'), 4, 1) }} as mid_range_attempts_per_game,
        {{ to_numeric(safe_divide('three_pt_attempts_10', 'games_in_sample_10'), 4, 1) }} as three_pt_attempts_per_game,
        case when games_in_sample_20 >= 15 then {{ to_numeric(safe_divide('100.0 * paint_attempts_20', 'total_shots_20'), 5, 2) }} end
            as paint_rate_last_20,
        case when games_in_sample_20 >= 15 then {{ to_numeric(safe_divide('paint_makes_20', 'paint_attempts_20'), 5, 3) }} end
            as paint_pct_last_20,
        games_in_sample_20,
        {{ to_numeric(safe_divide('100.0 * assisted_fg_makes_10', 'fg_makes_10'), 5, 2) }} as assisted_rate_last_10,
        {{ to_numeric(safe_divide('100.0 * unassisted_fg_makes_10', 'fg_makes_10'), 5, 2) }} as unassisted_rate_last_10,
        source_last_updated,
        games_in_sample_20 as source_rows_found,
        source_hash,
        expected_games,
        actual_games,
        early_season_flag,
        season_boundary_detected,
        backfill_bootstrap_mode
    from zone_metrics
),

classified as (
    select
        *,
        {{ primary_scoring_zone('paint_rate_last_10', 'mid_range_rate_last_10', 'three_pt_rate_last_10') }} as primary_scoring_zone,
        {{ sample_quality('games_in_sample_10', 10) }} as sample_quality_10,
        {{ sample_quality('games_in_sample_20', 20) }} as sample_quality_20,
        case
            when games_in_sample_10 >= 10 then 'high'
            when games_in_sample_10 >= 7 then 'medium'
            else 'low'
        end as data_quality_tier,
        {{ completeness_pct('actual_games', 'expected_games') }} as completeness_pct,
        {{ is_complete('actual_games', 'expected_games') }} as own_data_ready
    from rounded
),

final as (
    select
        player_lookup,
        universal_player_id,
        analysis_date,
        paint_rate_last_10,
        mid_range_rate_last_10,
        three_pt_rate_last_10,
        total_shots_last_10,
        games_in_sample_10,
        sample_quality_10,
        paint_pct_last_10,
        mid_range_pct_last_10,
        three_pt_pct_last_10,
        paint_attempts_per_game,
        mid_range_attempts_per_game,
        three_pt_attempts_per_game,
        paint_rate_last_20,
        paint_pct_last_20,
        games_in_sample_20,
        sample_quality_20,
        assisted_rate_last_10,
        unassisted_rate_last_10,
        cast(null as {{ dbt.type_string() }}) as player_position,
        primary_scoring_zone,
        data_quality_tier,
        cast(null as {{ dbt.type_string() }}) as calculation_notes,
        source_last_updated as source_player_game_last_updated,
        source_rows_found as source_player_game_rows_found,
        {{ to_numeric('completeness_pct', 5, 2) }} as source_player_game_completeness_pct,
        source_hash as source_player_game_hash,
        early_season_flag,
        case when early_season_flag then 'early_season_skip_first_14_days' end as insufficient_data_reason,
        expected_games as expected_games_count,
        actual_games as actual_games_count,
        cast(completeness_pct as {{ type_float64() }}) as completeness_percentage,
        greatest(expected_games - actual_games, 0) as missing_games_count,
        own_data_ready as is_production_ready,
        {{ string_array(["case when not own_data_ready then 'own_data_incomplete' end"]) }} as data_quality_issues,
        season_boundary_detected,
        backfill_bootstrap_mode,
        'processed_successfully' as processing_decision_reason
    from classified
)

select
    final.*,
    {{ write_timestamps() }}
from final
