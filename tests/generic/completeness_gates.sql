{#-
  Completeness gates (docs/decisions.md#completeness-gates), attached to int_run_dates so that `dbt build` runs
  them before every output model and a failure skips all of them. Severity comes from the var
  completeness_severity: error in daily runs, warn in backfills. Each gate also logs the first
  missing games by id (on-run-end macro log_test_failures), so the failure names them.
-#}


{% test scheduled_games_have_upcoming_context(model, schedule, player_context, team_context) %}
{#-
  Every scheduled game on a run date has upcoming player context and team context for both teams.
  A failing row names the run date it invalidates (`run_date`): with severity warn the hash merge
  keeps that date's existing rows instead of writing a slate without the game (gate_held_dates).
-#}
with games as (
    select schedule.game_id, schedule.game_date, schedule.home_team_tricode, schedule.away_team_tricode
    from {{ schedule }} as schedule
    inner join (select * from {{ model }}) as run_dates on schedule.game_date = run_dates.game_date
),

sides as (
    select game_id, game_date, home_team_tricode as team_abbr from games
    union all
    select game_id, game_date, away_team_tricode as team_abbr from games
),

checks as (
    select
        sides.game_id,
        sides.game_date,
        sides.team_abbr,
        exists (
            select 1 from {{ player_context }} as players
            where players.game_id = sides.game_id and players.team_abbr = sides.team_abbr
        ) as has_player_context,
        exists (
            select 1 from {{ team_context }} as teams
            where teams.game_id = sides.game_id and teams.team_abbr = sides.team_abbr
        ) as has_team_context
    from sides
)

select
    game_id,
    game_date,
    game_date as run_date,
    team_abbr || ': ' || case
        when not has_player_context and not has_team_context then 'player and team upcoming context'
        when not has_player_context then 'player upcoming context'
        else 'team upcoming context'
    end as missing
from checks
where not has_player_context or not has_team_context
{% endtest %}


{% test final_games_have_box_scores(model, schedule, player_games, team_offense, team_defense) %}
{#-
  Every final game inside the models' lookback (from the season start of the earliest run date to
  the latest run date, exclusive) has player, team offence and team defence rows for both teams.
-#}
with lookback as (
    select min(run_dates.season_start_date) as first_date, max(run_dates.game_date) as last_date
    from (select * from {{ model }}) as run_dates
),

games as (
    select schedule.game_id, schedule.game_date, schedule.home_team_tricode, schedule.away_team_tricode
    from {{ schedule }} as schedule
    cross join lookback
    where schedule.is_final and schedule.game_date >= lookback.first_date and schedule.game_date < lookback.last_date
),

sides as (
    select game_id, game_date, home_team_tricode as team_abbr from games
    union all
    select game_id, game_date, away_team_tricode as team_abbr from games
),

checks as (
    select
        sides.game_id,
        sides.game_date,
        sides.team_abbr,
        exists (
            select 1 from {{ player_games }} as players
            where players.game_id = sides.game_id and players.team_abbr = sides.team_abbr
        ) as has_players,
        exists (
            select 1 from {{ team_offense }} as offense
            where offense.game_id = sides.game_id and offense.team_abbr = sides.team_abbr
        ) as has_offense,
        exists (
            select 1 from {{ team_defense }} as defense
            where defense.game_id = sides.game_id and defense.defending_team_abbr = sides.team_abbr
        ) as has_defense
    from sides
)

select
    game_id,
    game_date,
    team_abbr || ': ' || array_to_string({{ string_array([
        "case when not has_players then 'player box scores' end",
        "case when not has_offense then 'team offence' end",
        "case when not has_defense then 'team defence' end",
    ]) }}, ', ') as missing
from checks
where not has_players or not has_offense or not has_defense
{% endtest %}


{% test box_scores_match_schedule(model, schedule) %}
{#-
  Every box-score row belongs to a game of the schedule and carries that game's date. Fails with
  each such row (its key: the player or team, and the game), the row's date and the schedule's date
  (NULL: the game is not in the schedule).
-#}
select
    box_scores.*,
    schedule.game_date as schedule_game_date,
    case
        when schedule.game_id is null then 'game not in the schedule'
        else 'game_date differs from the schedule'
    end as broken_rule
from {{ model }} as box_scores
left join {{ schedule }} as schedule
    on box_scores.game_id = schedule.game_id
where schedule.game_id is null or schedule.game_date != box_scores.game_date
{% endtest %}
