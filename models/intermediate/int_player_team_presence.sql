-- For every player and every final game of each team he had a box-score row for in a season:
-- whether he has a row for that team game, and how many of the team's last 5 / 10 games he has
-- rows for. The "actual" side of player completeness (docs/decisions.md#completeness).
with player_team_seasons as (
    select distinct
        player_lookup,
        team_abbr,
        schedule_season_year as season_year
    from {{ ref('int_player_games') }}
),

player_game_ids as (
    select distinct
        player_lookup,
        game_id
    from {{ ref('int_player_games') }}
),

presence as (
    select
        player_team_seasons.player_lookup,
        team_games.team_abbr,
        team_games.season_year,
        team_games.team_game_number,
        case when player_game_ids.game_id is not null then 1 else 0 end as has_row
    from player_team_seasons
    inner join {{ ref('int_team_games') }} as team_games
        on
            player_team_seasons.team_abbr = team_games.team_abbr
            and player_team_seasons.season_year = team_games.season_year
    left join player_game_ids
        on
            player_team_seasons.player_lookup = player_game_ids.player_lookup
            and team_games.game_id = player_game_ids.game_id
)

select
    player_lookup,
    team_abbr,
    season_year,
    team_game_number,
    has_row,
    cast(sum(has_row) over (
        partition by player_lookup, team_abbr, season_year order by team_game_number
        rows between 4 preceding and current row
    ) as {{ dbt.type_bigint() }}) as present_last_5,
    cast(sum(has_row) over (
        partition by player_lookup, team_abbr, season_year order by team_game_number
        rows between 9 preceding and current row
    ) as {{ dbt.type_bigint() }}) as present_last_10
from presence
