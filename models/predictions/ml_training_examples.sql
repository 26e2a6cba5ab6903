{{
  config(
    unique_key=['player_lookup', 'game_date', 'feature_version'],
    window_column='game_date',
    catch_up_from_own_rows=true,
    partition_by={'field': 'game_date', 'data_type': 'date', 'granularity': 'day'},
    cluster_by=['feature_version', 'player_lookup', 'quality_tier'],
  )
}}
-- Point-in-time training examples: each row of each ml_feature_store_v2 version whose game is final, with the
-- label of that game and the prop line known before it. Features are the stored row, never
-- recomputed; labels come only from the game on the row's own date.
with final_games as (
    select
        game_id,
        season_year
    from {{ ref('stg_nba_raw__schedule') }}
    where is_final and {{ window_filter('game_date') }}
),

-- One example per row of each version of the store: the key holds feature_version, so a consumer
-- reads the version it was trained on.
stored_features as (
    select
        player_lookup,
        universal_player_id,
        game_date,
        game_id,
        features,
        feature_names,
        feature_count,
        feature_version,
        feature_quality_score,
        quality_tier,
        data_source,
        early_season_flag,
        is_production_ready,
        feature_sources,
        default_feature_count,
        is_training_ready,
        data_hash as feature_data_hash
    from {{ ref('int_ml_feature_store_v2__versions') }}
    where {{ window_filter('game_date') }}
),

box_scores as (
    select
        player_lookup,
        game_id,
        points,
        minutes_played,
        coalesce(is_active and (minutes_played > 0 or points > 0), false) as played
    from {{ ref('stg_nba_analytics__player_game_summary') }}
    where {{ window_filter('game_date') }}
),

prop_lines as (
    select
        player_lookup,
        game_id,
        has_prop_line,
        case when has_prop_line then current_points_line end as current_points_line
    from {{ ref('stg_nba_analytics__upcoming_player_game_context') }}
    where {{ window_filter('game_date') }}
),

examples as (
    select
        stored_features.*,
        final_games.season_year,
        coalesce(box_scores.played, false) as played,
        box_scores.points as actual_points,
        cast(box_scores.minutes_played as {{ type_float64() }}) as actual_minutes,
        coalesce(prop_lines.has_prop_line, false) as has_prop_line,
        prop_lines.current_points_line
    from stored_features
    inner join final_games
        on stored_features.game_id = final_games.game_id
    left join box_scores
        on
            stored_features.player_lookup = box_scores.player_lookup
            and stored_features.game_id = box_scores.game_id
    left join prop_lines
        on
            stored_features.player_lookup = prop_lines.player_lookup
            and stored_features.game_id = prop_lines.game_id
),

-- Over / push only when the player played and a line existed; NULL otherwise (a DNP is no outcome).
outcomes as (
    select
        *,
        case when played and current_points_line is not null then actual_points > current_points_line end as over_line,
        case when played and current_points_line is not null then actual_points = current_points_line end as push
    from examples
)

select
    player_lookup,
    universal_player_id,
    game_date,
    game_id,
    season_year,
    features,
    feature_names,
    feature_count,
    feature_version,
    feature_quality_score,
    quality_tier,
    data_source,
    early_season_flag,
    is_production_ready,
    feature_sources,
    default_feature_count,
    is_training_ready,
    feature_data_hash,
    played,
    actual_points,
    actual_minutes,
    has_prop_line,
    current_points_line,
    over_line,
    push,
    {{ write_timestamps() }}
from outcomes
