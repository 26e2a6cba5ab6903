{{
  config(
    unique_key=['team_abbr', 'analysis_date'],
    window_column='analysis_date',
    partition_by={'field': 'analysis_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['team_abbr', 'analysis_date'],
  )
}}
-- Zone defence of every team with at least 15 games in the season before D, against the league
-- (legacy TDZA; docs/decisions.md#point-in-time, #unbounded-windows and #who-gets-a-row).
with team_state as (
    select
        rolling.*,
        run_dates.game_date as analysis_date,
        run_dates.early_season_flag,
        run_dates.season_boundary_detected,
        run_dates.backfill_bootstrap_mode
    from {{ ref('int_run_dates') }} as run_dates
    inner join {{ ref('int_team_defense__rolling') }} as rolling
        on
            run_dates.season_year = rolling.season_year
            and run_dates.game_date > rolling.game_date
            and (rolling.valid_until is null or run_dates.game_date <= rolling.valid_until)
    where rolling.game_number >= 15
),

with_context as (
    select
        team_state.*,
        least(15, coalesce(games_before.team_games_before, 0)) as expected_games,
        coalesce(presence.present_last_15, 0) as actual_games,
        {{ safe_divide('opp_paint_makes_15', 'opp_paint_attempts_15') }} as paint_pct,
        {{ safe_divide('opp_mid_range_makes_15', 'opp_mid_range_attempts_15') }} as mid_range_pct,
        {{ safe_divide('opp_three_pt_makes_15', 'opp_three_pt_attempts_15') }} as three_pt_pct,
        league.league_paint_pct,
        league.league_mid_range_pct,
        league.league_three_pt_pct
    from team_state
    left join {{ ref('int_team_games_before_date') }} as games_before
        on
            team_state.team_abbr = games_before.team_abbr
            and team_state.analysis_date = games_before.game_date
    left join {{ ref('int_team_defense_presence') }} as presence
        on
            team_state.team_abbr = presence.team_abbr
            and games_before.season_year = presence.season_year
            and games_before.team_games_before = presence.team_game_number
    inner join {{ ref('int_league_zone_averages') }} as league
        on team_state.analysis_date = league.game_date
),

versus_league as (
    select
        *,
        (paint_pct - league_paint_pct) * 100 as paint_vs_league,
        (mid_range_pct - league_mid_range_pct) * 100 as mid_range_vs_league,
        (three_pt_pct - league_three_pt_pct) * 100 as three_pt_vs_league,
        {{ completeness_pct('actual_games', 'expected_games') }} as completeness_pct,
        {{ is_complete('actual_games', 'expected_games') }} as own_data_ready
    from with_context
),

final as (
    select
        team_abbr,
        analysis_date,
        {{ to_numeric('paint_pct', 5, 3) }} as paint_pct_allowed_last_15,
        {{ to_numeric(safe_divide('opp_paint_attempts_15', 'games_in_sample'), 5, 1) }} as paint_attempts_allowed_per_game,
        {{ to_numeric(safe_divide('points_in_paint_allowed_15', 'games_in_sample'), 5, 1) }} as paint_points_allowed_per_game,
        {{ to_numeric(safe_divide('blocks_paint_15', 'games_in_sample'), 4, 1) }} as paint_blocks_per_game,
        {{ to_numeric('paint_vs_league', 5, 2) }} as paint_defense_vs_league_avg,
        {{ to_numeric('mid_range_pct', 5, 3) }} as mid_range_pct_allowed_last_15,
        {{ to_numeric(safe_divide('opp_mid_range_attempts_15', 'games_in_sample'), 5, 1) }} as mid_range_attempts_allowed_per_game,
        {{ to_numeric(safe_divide('blocks_mid_range_15', 'games_in_sample'), 4, 1) }} as mid_range_blocks_per_game,
        {{ to_numeric('mid_range_vs_league', 5, 2) }} as mid_range_defense_vs_league_avg,
        {{ to_numeric('three_pt_pct', 5, 3) }} as three_pt_pct_allowed_last_15,
        {{ to_numeric(safe_divide('opp_three_pt_attempts_15', 'games_in_sample'), 5, 1) }} as three_pt_attempts_allowed_per_game,
        {{ to_numeric(safe_divide('blocks_three_pt_15', 'games_in_sample'), 4, 1) }} as three_pt_blocks_per_game,
        {{ to_numeric('three_pt_vs_league', 5, 2) }} as three_pt_defense_vs_league_avg,
        {{ to_numeric('defensive_rating_15', 6, 2) }} as defensive_rating_last_15,
        {{ to_numeric(safe_divide('points_allowed_15', 'games_in_sample'), 5, 1) }} as opponent_points_per_game,
        {{ to_numeric('opponent_pace_15', 5, 1) }} as opponent_pace,
        games_in_sample,
        {{ extreme_zone('paint_vs_league', 'mid_range_vs_league', 'three_pt_vs_league', '<=') }} as strongest_zone,
        {{ extreme_zone('paint_vs_league', 'mid_range_vs_league', 'three_pt_vs_league', '>=') }} as weakest_zone,
        case
            when games_in_sample >= 15 then 'high'
            when games_in_sample >= 10 then 'medium'
            else 'low'
        end as data_quality_tier,
        nullif(array_to_string({{ string_array([
            "case when opp_paint_attempts_15 = 0 then 'No paint attempts' end",
            "case when opp_mid_range_attempts_15 = 0 then 'No mid-range attempts' end",
            "case when opp_three_pt_attempts_15 = 0 then 'No three-point attempts' end",
        ]) }}, '; '), '') as calculation_notes,
        source_last_updated as source_team_defense_last_updated,
        games_in_sample as source_team_defense_rows_found,
        {{ to_numeric('completeness_pct', 5, 2) }} as source_team_defense_completeness_pct,
        source_hash as source_team_defense_hash,
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
    from versus_league
)

select
    final.*,
    {{ write_timestamps() }}
from final
