-- Each team's offence games in order across seasons, with the means of its last 10 (any season,
-- docs/decisions.md#unbounded-windows) and its season-to-date record, ending at each game. The state after
-- game k holds for dates D with game_date(k) < D <= valid_until (next game, any season).
with offense_games as (
    select
        offense.*,
        schedule.season_year as schedule_season_year
    from {{ ref('stg_nba_analytics__team_offense_game_summary') }} as offense
    inner join {{ ref('stg_nba_raw__schedule') }} as schedule
        on offense.game_id = schedule.game_id
    where {{ window_filter('offense.game_date', lookback_days=typed_var('history_lookback_days')) }}
)

select
    team_abbr,
    schedule_season_year as season_year,
    game_date,
    lead(game_date) over (partition by team_abbr order by game_date, game_id) as valid_until,
    count(*) over last_10 as games_in_sample,
    avg(pace) over last_10 as pace_last_10,
    avg(offensive_rating) over last_10 as off_rating_last_10,
    count(*) over season_to_date as season_games,
    cast(sum(case when win_flag then 1 else 0 end) over season_to_date as {{ dbt.type_bigint() }}) as season_wins,
    max(processed_at) over last_10 as source_last_updated,
    {{ fingerprint_agg('data_hash', over='partition by team_abbr order by game_date, game_id rows between 9 preceding and current row') }} as source_hash
from offense_games
window
    last_10 as (partition by team_abbr order by game_date, game_id rows between 9 preceding and current row),
    season_to_date as (
        partition by team_abbr, schedule_season_year order by game_date, game_id
        rows between unbounded preceding and current row
    )
