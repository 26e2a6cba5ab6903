-- League FG% allowed by zone for each run date D: the unweighted mean over teams with at least 10
-- defence rows in [D - 30, D) (docs/decisions.md#unbounded-windows), of each team's pooled FG% allowed; with
-- fewer than 10 such teams, the legacy defaults 0.580 / 0.410 / 0.355 and teams_in_sample 0.
with team_sums as (
    select
        run_dates.game_date,
        defense.defending_team_abbr,
        count(*) as games,
        {{ safe_divide('sum(defense.opp_paint_makes)', 'sum(defense.opp_paint_attempts)') }} as paint_pct,
        {{ safe_divide('sum(defense.opp_mid_range_makes)', 'sum(defense.opp_mid_range_attempts)') }} as mid_range_pct,
        {{ safe_divide('sum(defense.opp_three_pt_makes)', 'sum(defense.opp_three_pt_attempts)') }} as three_pt_pct
    from {{ ref('int_run_dates') }} as run_dates
    inner join {{ ref('stg_nba_analytics__team_defense_game_summary') }} as defense
        on
            run_dates.game_date > defense.game_date
            and defense.game_date >= {{ date_add_days('run_dates.game_date', -30) }}
    -- Defence rows of games absent from the schedule stop the build at staging (game_matches_schedule).
    inner join {{ ref('stg_nba_raw__schedule') }} as schedule
        on defense.game_id = schedule.game_id
    group by run_dates.game_date, defense.defending_team_abbr
),

league as (
    select
        game_date,
        count(*) as teams_in_sample,
        avg(paint_pct) as paint_pct,
        avg(mid_range_pct) as mid_range_pct,
        avg(three_pt_pct) as three_pt_pct
    from team_sums
    where
        games >= 10
        and paint_pct is not null
        and mid_range_pct is not null
        and three_pt_pct is not null
    group by game_date
)

select
    run_dates.game_date,
    case when league.teams_in_sample >= 10 then league.teams_in_sample else 0 end as teams_in_sample,
    case when league.teams_in_sample >= 10 then league.paint_pct else 0.580 end as league_paint_pct,
    case when league.teams_in_sample >= 10 then league.mid_range_pct else 0.410 end as league_mid_range_pct,
    case when league.teams_in_sample >= 10 then league.three_pt_pct else 0.355 end as league_three_pt_pct
from {{ ref('int_run_dates') }} as run_dates
left join league
    on run_dates.game_date = league.game_date
