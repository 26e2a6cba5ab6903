{{ config(materialized='table', schema='nba_staging', hash_merge=false, row_hash_column='input_fingerprint') }}
-- One prepared row per upcoming-context player and run date for the Python model
-- ml_feature_store_v2: every tier candidate of every feature (daily cache, composite factors, shot
-- zones, the opponent's defence, the Phase 3 fallbacks of docs/decisions.md#phase3-fallbacks),
-- the history the calculated features need, the team's season record, completeness, readiness
-- and the model's code_version. It reads the precompute tables, so it sits beside the model it
-- feeds. Its input_fingerprint (post-hook attach_row_hash) is the hash of the whole row.
with slate as (
    select * from {{ ref('int_upcoming_player_slate') }}
),

own_completeness as (
    {{ player_games_completeness('slate', 10) }}
),

history as (
    select
        slate.player_lookup,
        slate.game_date,
        recent.games_last_10,
        recent.points_avg_last_5,
        recent.points_avg_last_10,
        recent.points_std_last_10,
        recent.minutes_avg_last_10,
        recent.points_sum_last_10,
        recent.ft_makes_sum_last_10,
        recent.paint_attempts_last_10,
        recent.mid_range_attempts_last_10,
        recent.three_pt_attempts_last_10,
        recent.points_1,
        recent.points_2,
        recent.points_3,
        recent.points_4,
        recent.points_5,
        season.points_avg_season,
        season.minutes_avg_season_all as minutes_avg_season
    from slate
    left join {{ ref('int_player_games_played__any_season_rolling') }} as recent
        on
            slate.player_lookup = recent.player_lookup
            and slate.game_date > recent.game_date
            and (recent.valid_until is null or slate.game_date <= recent.valid_until)
    left join {{ ref('int_player_games_played__season_rolling') }} as season
        on
            slate.player_lookup = season.player_lookup
            and slate.season_year = season.season_year
            and slate.game_date > season.game_date
            and (season.valid_until is null or slate.game_date <= season.valid_until)
),

team_history as (
    select
        slate.player_lookup,
        slate.game_date,
        own_team.pace_last_10 as team_pace_last_10,
        own_team.off_rating_last_10 as team_off_rating_last_10,
        case when own_team.season_year = slate.season_year then own_team.season_games else 0 end as team_season_games,
        case when own_team.season_year = slate.season_year then own_team.season_wins else 0 end as team_season_wins,
        opponent.defensive_rating_15 as opponent_def_rating,
        opponent.opponent_pace_15 as opponent_pace
    from slate
    left join {{ ref('int_team_offense__rolling') }} as own_team
        on
            slate.team_abbr = own_team.team_abbr
            and slate.game_date > own_team.game_date
            and (own_team.valid_until is null or slate.game_date <= own_team.valid_until)
    left join {{ ref('int_team_defense__rolling') }} as opponent
        on
            slate.opponent_team_abbr = opponent.team_abbr
            and slate.season_year = opponent.season_year
            and slate.game_date > opponent.game_date
            and (opponent.valid_until is null or slate.game_date <= opponent.valid_until)
),

joined as (
    select
        slate.player_lookup,
        slate.universal_player_id,
        slate.game_id,
        slate.game_date,
        slate.team_abbr,
        slate.opponent_team_abbr,
        slate.home_game as is_home,
        slate.back_to_back,
        slate.season_phase,
        slate.days_rest,
        slate.opponent_days_rest,
        slate.player_status,
        slate.early_season_flag,
        slate.season_boundary_detected,
        slate.backfill_bootstrap_mode,
        daily_cache.player_lookup is not null as has_daily_cache_row,
        {%- for column in ['points_avg_last_5', 'points_avg_last_10', 'points_avg_season', 'points_std_last_10', 'games_in_last_7_days', 'paint_rate_last_10', 'three_pt_rate_last_10', 'minutes_avg_last_10', 'team_pace_last_10', 'team_off_rating_last_10'] %}
            cast(daily_cache.{{ column }} as {{ type_float64() }}) as pdc_{{ column }},
        {%- endfor %}
        coalesce(daily_cache.is_production_ready, false) as daily_cache_ready,
        composite.player_lookup is not null as has_composite_row,
        {%- for column in ['fatigue_score', 'shot_zone_mismatch_score', 'pace_score', 'usage_spike_score'] %}
            cast(composite.{{ column }} as {{ type_float64() }}) as pcf_{{ column }},
        {%- endfor %}
        coalesce(composite.is_production_ready, false) as composite_ready,
        shot_zone.player_lookup is not null as has_shot_zone_row,
        {%- for column in ['paint_rate_last_10', 'mid_range_rate_last_10', 'three_pt_rate_last_10'] %}
            cast(shot_zone.{{ column }} as {{ type_float64() }}) as psza_{{ column }},
        {%- endfor %}
        coalesce(shot_zone.is_production_ready, false) as shot_zone_ready,
        defense.team_abbr is not null as has_team_defense_row,
        cast(defense.defensive_rating_last_15 as {{ type_float64() }}) as tdza_defensive_rating_last_15,
        cast(defense.opponent_pace as {{ type_float64() }}) as tdza_opponent_pace,
        coalesce(defense.is_production_ready, false) as team_defense_ready,
        coalesce(history.games_last_10, 0) as p3_games_last_10,
        case when history.games_last_10 >= 5 then history.points_avg_last_5 end as p3_points_avg_last_5,
        history.points_avg_last_10 as p3_points_avg_last_10,
        history.points_std_last_10 as p3_points_std_last_10,
        history.points_avg_season as p3_points_avg_season,
        history.minutes_avg_season as p3_minutes_avg_season,
        history.minutes_avg_last_10 as p3_minutes_avg_last_10,
        history.points_sum_last_10 as p3_points_sum_last_10,
        history.ft_makes_sum_last_10 as p3_ft_makes_sum_last_10,
        history.points_1 as p3_points_1,
        history.points_2 as p3_points_2,
        history.points_3 as p3_points_3,
        history.points_4 as p3_points_4,
        history.points_5 as p3_points_5,
        {%- for zone in ['paint', 'mid_range', 'three'] %}
        {{ safe_divide('history.' ~ ('three_pt' if zone == 'three' else zone) ~ '_attempts_last_10',
            'history.paint_attempts_last_10 + history.mid_range_attempts_last_10 + history.three_pt_attempts_last_10') }}
                as p3_{{ zone }}_share_last_10,
        {%- endfor %}
        slate.games_in_last_7_days as p3_games_in_last_7_days,
        team_history.opponent_def_rating as p3_opponent_def_rating,
        team_history.opponent_pace as p3_opponent_pace,
        team_history.team_pace_last_10 as p3_team_pace_last_10,
        team_history.team_off_rating_last_10 as p3_team_off_rating_last_10,
        coalesce(team_history.team_season_games, 0) as team_season_games,
        coalesce(team_history.team_season_wins, 0) as team_season_wins,
        own_completeness.expected_games as expected_games_count,
        own_completeness.actual_games as actual_games_count,
        cast({{ completeness_pct('own_completeness.actual_games', 'own_completeness.expected_games') }} as {{ type_float64() }})
            as completeness_percentage,
        greatest(own_completeness.expected_games - own_completeness.actual_games, 0) as missing_games_count,
        {{ is_complete('own_completeness.actual_games', 'own_completeness.expected_games') }} as own_data_ready,
        {%- for prefix, alias, key in [('source_daily_cache', 'daily_cache', 'player_lookup'), ('source_composite', 'composite', 'player_lookup'), ('source_shot_zones', 'shot_zone', 'player_lookup'), ('source_team_defense', 'defense', 'team_abbr')] %}
            {{ alias }}.processed_at as {{ prefix }}_last_updated,
            case when {{ alias }}.{{ key }} is not null then 1 else 0 end as {{ prefix }}_rows_found,
            cast(case when {{ alias }}.{{ key }} is not null then 100.0 else 0.0 end as {{ type_float64() }}) as {{ prefix }}_completeness_pct,
            {{ fingerprint_one(alias ~ '.data_hash') }} as {{ prefix }}_hash,
        {%- endfor %}
        '{{ consumer_code_version() }}' as code_version
    from slate
    inner join own_completeness
        on slate.player_lookup = own_completeness.player_lookup and slate.game_date = own_completeness.game_date
    inner join history
        on slate.player_lookup = history.player_lookup and slate.game_date = history.game_date
    inner join team_history
        on slate.player_lookup = team_history.player_lookup and slate.game_date = team_history.game_date
    left join {{ ref('player_daily_cache') }} as daily_cache
        on slate.player_lookup = daily_cache.player_lookup and slate.game_date = daily_cache.cache_date
    left join {{ ref('player_composite_factors') }} as composite
        on slate.player_lookup = composite.player_lookup and slate.game_date = composite.game_date
    left join {{ ref('player_shot_zone_analysis') }} as shot_zone
        on slate.player_lookup = shot_zone.player_lookup and slate.game_date = shot_zone.analysis_date
    left join {{ ref('team_defense_zone_analysis') }} as defense
        on slate.opponent_team_abbr = defense.team_abbr and slate.game_date = defense.analysis_date
)

select * from joined
