{{ config(materialized='table', schema='nba_staging', hash_merge=false, row_hash_column='input_fingerprint') }}
-- One prepared row per upcoming-context player and run date for the Python model
-- player_composite_factors: his context, his shot-zone row, his opponent's defence row, the
-- readiness of each upstream row, his own completeness (last 10 team games) and the model's
-- code_version. It reads the precompute tables, so it sits beside the model it feeds. Its
-- input_fingerprint (post-hook attach_row_hash) is the hash of the whole row.
with slate as (
    select * from {{ ref('int_upcoming_player_slate') }}
),

own_completeness as (
    {{ player_games_completeness('slate', 10) }}
),

team_context as (
    -- One upcoming team-context row per team and date (latest processed_at, then smallest game_id).
    select *
    from {{ ref('stg_nba_analytics__upcoming_team_game_context') }}
    qualify row_number() over (
            partition by team_abbr, game_date order by processed_at desc nulls last, game_id asc
        ) = 1
),

joined as (
    select
        slate.player_lookup,
        slate.universal_player_id,
        slate.game_id,
        slate.game_date,
        slate.team_abbr,
        slate.opponent_team_abbr,
        slate.days_rest,
        slate.back_to_back,
        slate.games_in_last_7_days,
        slate.minutes_in_last_7_days,
        slate.avg_minutes_per_game_last_7,
        slate.back_to_backs_last_14_days,
        slate.player_age,
        slate.projected_usage_rate,
        slate.avg_usage_rate_last_7_games,
        slate.star_teammates_out,
        slate.pace_differential,
        slate.opponent_pace_last_10,
        shot_zone.player_lookup is not null as has_shot_zone_row,
        shot_zone.primary_scoring_zone,
        cast(shot_zone.paint_rate_last_10 as {{ type_float64() }}) as paint_rate_last_10,
        cast(shot_zone.mid_range_rate_last_10 as {{ type_float64() }}) as mid_range_rate_last_10,
        cast(shot_zone.three_pt_rate_last_10 as {{ type_float64() }}) as three_pt_rate_last_10,
        defense.team_abbr is not null as has_team_defense_row,
        cast(defense.paint_defense_vs_league_avg as {{ type_float64() }}) as paint_defense_vs_league_avg,
        cast(defense.mid_range_defense_vs_league_avg as {{ type_float64() }}) as mid_range_defense_vs_league_avg,
        cast(defense.three_pt_defense_vs_league_avg as {{ type_float64() }}) as three_pt_defense_vs_league_avg,
        defense.weakest_zone,
        coalesce(shot_zone.is_production_ready, false) as upstream_player_shot_ready,
        coalesce(defense.is_production_ready, false) as upstream_team_defense_ready,
        coalesce(slate.is_production_ready, false) as upstream_player_context_ready,
        coalesce(opponent_context.is_production_ready, false) as upstream_team_context_ready,
        slate.early_season_flag,
        slate.season_boundary_detected,
        slate.backfill_bootstrap_mode,
        own_completeness.expected_games as expected_games_count,
        own_completeness.actual_games as actual_games_count,
        cast({{ completeness_pct('own_completeness.actual_games', 'own_completeness.expected_games') }} as {{ type_float64() }})
            as completeness_percentage,
        greatest(own_completeness.expected_games - own_completeness.actual_games, 0) as missing_games_count,
        {{ is_complete('own_completeness.actual_games', 'own_completeness.expected_games') }} as own_data_ready,
        slate.processed_at as source_player_context_last_updated,
        1 as source_player_context_rows_found,
        cast(100.0 as {{ type_float64() }}) as source_player_context_completeness_pct,
        {{ fingerprint_one('slate.data_hash') }} as source_player_context_hash,
        opponent_context.processed_at as source_team_context_last_updated,
        case when opponent_context.team_abbr is not null then 1 else 0 end as source_team_context_rows_found,
        cast(case when opponent_context.team_abbr is not null then 100.0 else 0.0 end as {{ type_float64() }})
            as source_team_context_completeness_pct,
        {{ fingerprint_one('opponent_context.data_hash') }} as source_team_context_hash,
        shot_zone.processed_at as source_player_shot_last_updated,
        case when shot_zone.player_lookup is not null then 1 else 0 end as source_player_shot_rows_found,
        cast(case when shot_zone.player_lookup is not null then 100.0 else 0.0 end as {{ type_float64() }})
            as source_player_shot_completeness_pct,
        {{ fingerprint_one('shot_zone.data_hash') }} as source_player_shot_hash,
        defense.processed_at as source_team_defense_last_updated,
        case when defense.team_abbr is not null then 1 else 0 end as source_team_defense_rows_found,
        cast(case when defense.team_abbr is not null then 100.0 else 0.0 end as {{ type_float64() }})
            as source_team_defense_completeness_pct,
        {{ fingerprint_one('defense.data_hash') }} as source_team_defense_hash
    from slate
    inner join own_completeness
        on slate.player_lookup = own_completeness.player_lookup and slate.game_date = own_completeness.game_date
    left join {{ ref('player_shot_zone_analysis') }} as shot_zone
        on slate.player_lookup = shot_zone.player_lookup and slate.game_date = shot_zone.analysis_date
    left join {{ ref('team_defense_zone_analysis') }} as defense
        on slate.opponent_team_abbr = defense.team_abbr and slate.game_date = defense.analysis_date
    left join team_context as opponent_context
        on slate.opponent_team_abbr = opponent_context.team_abbr and slate.game_date = opponent_context.game_date
)

select
    *,
    '{{ consumer_code_version() }}' as code_version
from joined
