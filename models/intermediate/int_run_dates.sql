{{ config(window_column='game_date', post_hook=["{{ log_run_dates() }}", "{{ run_gates_after_build() }}"]) }}
-- The completeness gates tested on this model read every staged source; these refs make every
-- output model downstream of all of them, so a failing gate skips all five tables. A command that
-- does not run the gates as tests (`dbt run`, `--exclude tag:gate`) judges them in the post-hook
-- run_gates_after_build, on the rows just built for this run's window.
-- depends_on: {{ ref('stg_nba_analytics__player_game_summary') }}
-- depends_on: {{ ref('stg_nba_analytics__team_offense_game_summary') }}
-- depends_on: {{ ref('stg_nba_analytics__team_defense_game_summary') }}
-- depends_on: {{ ref('stg_nba_analytics__upcoming_player_game_context') }}
-- depends_on: {{ ref('stg_nba_analytics__upcoming_team_game_context') }}
-- The dates this run processes: every scheduled game date inside the run window (docs/decisions.md#run-window), with
-- its season and the early-season flags shared by the five output tables. Without date vars the
-- window ends at the latest date the upcoming context holds (the next slate).
-- Each season's start: its first final regular-season game (before opening night, the first
-- scheduled one). docs/decisions.md#season.
with seasons as (
    select
        season_year,
        coalesce(
            min(case when is_regular_season and is_final then game_date end),
            min(case when is_regular_season then game_date end),
            min(game_date)
        ) as season_start_date
    from {{ ref('stg_nba_raw__schedule') }}
    group by season_year
),

game_dates as (
    select
        game_date,
        max(season_year) as season_year
    from {{ ref('stg_nba_raw__schedule') }}
    where
        {{ window_filter('game_date') }}
        {%- if run_window().mode in ('all', 'catch_up') %}
        -- Without explicit dates, stop at the latest slate that has upcoming context.
            and game_date <= (
                select max(upcoming.game_date)
                from {{ ref('stg_nba_analytics__upcoming_player_game_context') }} as upcoming
            )
        {%- endif %}
    group by game_date
)

select
    game_dates.game_date,
    game_dates.season_year,
    seasons.season_start_date,
    {{ days_between('seasons.season_start_date', 'game_dates.game_date') }} as days_into_season,
    coalesce({{ days_between('seasons.season_start_date', 'game_dates.game_date') }} between 0 and {{ typed_var('early_season_days') - 1 }}, false)
        as early_season_flag,
    extract(month from game_dates.game_date) in (10, 11, 4) as season_boundary_detected,
    coalesce({{ days_between('seasons.season_start_date', 'game_dates.game_date') }} between 0 and 29, false)
        as backfill_bootstrap_mode
from game_dates
inner join seasons
    on game_dates.season_year = seasons.season_year
