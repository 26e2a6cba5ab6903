-- For every final team game: whether the team has a defence row for it, and how many of the team's
-- last 15 final games have one (the "actual" side of team completeness, docs/decisions.md#completeness).
with presence as (
    select
        team_games.team_abbr,
        team_games.season_year,
        team_games.team_game_number,
        case when defense.game_id is not null then 1 else 0 end as has_row
    from {{ ref('int_team_games') }} as team_games
    left join {{ ref('stg_nba_analytics__team_defense_game_summary') }} as defense
        on
            team_games.game_id = defense.game_id
            and team_games.team_abbr = defense.defending_team_abbr
)

select
    team_abbr,
    season_year,
    team_game_number,
    has_row,
    cast(sum(has_row) over (
        partition by team_abbr, season_year order by team_game_number
        rows between 14 preceding and current row
    ) as {{ dbt.type_bigint() }}) as present_last_15
from presence
