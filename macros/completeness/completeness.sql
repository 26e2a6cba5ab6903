{#-
  Completeness (docs/decisions.md#completeness): expected = the entity's team's final games in the window
  before D in the season; actual = how many of those games the entity has an upstream row for.
  percent = 100·actual/expected capped at 100, NULL when expected is 0; ready = percent >= 90.
-#}

{% macro completeness_pct(actual, expected) -%}
  case when {{ expected }} > 0 then least(100.0, round(100.0 * {{ actual }} / {{ expected }}, 1)) end
{%- endmacro %}


{% macro is_complete(actual, expected) -%}
  {#- CASE, not AND: BigQuery does not promise to short-circuit before the division. -#}
  coalesce(case when {{ expected }} > 0 then 100.0 * {{ actual }} / {{ expected }} >= {{ typed_var('production_ready_pct') }} end, false)
{%- endmacro %}


{% macro player_games_completeness(pairs, window_games) -%}
  {#-
    pairs: a relation or CTE name with player_lookup, game_date (D), season_year, team_abbr (the
    player's team for D). Renders a select of player_lookup, game_date, expected, actual for the
    team's last `window_games` final games of the season before D (window_games is 5 or 10).
  -#}
  select
      pairs.player_lookup,
      pairs.game_date,
      cast(least({{ window_games }}, coalesce(team_state.team_games_before, 0)) as {{ dbt.type_bigint() }}) as expected_games,
      cast(coalesce(presence.present_last_{{ window_games }}, 0) as {{ dbt.type_bigint() }}) as actual_games
  from {{ pairs }} as pairs
  left join {{ ref('int_team_games_before_date') }} as team_state
      on
          pairs.team_abbr = team_state.team_abbr
          and pairs.game_date = team_state.game_date
  left join {{ ref('int_player_team_presence') }} as presence
      on
          pairs.player_lookup = presence.player_lookup
          and pairs.team_abbr = presence.team_abbr
          and team_state.season_year = presence.season_year
          and team_state.team_games_before = presence.team_game_number
{%- endmacro %}


{% macro player_days_completeness(pairs, window_days) -%}
  {#- Same, for the team's final games in [D - window_days, D) of D's season (window_days <= 14). -#}
  select
      pairs.player_lookup,
      pairs.game_date,
      cast(count(team_games.game_id) as {{ dbt.type_bigint() }}) as expected_games,
      cast(count(player_games.game_id) as {{ dbt.type_bigint() }}) as actual_games
  from {{ pairs }} as pairs
  left join {{ ref('int_team_recent_games_by_date') }} as team_games
      on
          pairs.team_abbr = team_games.team_abbr
          and pairs.game_date = team_games.game_date
          and team_games.days_before <= {{ window_days }}
  left join {{ ref('int_player_games') }} as player_games
      on
          pairs.player_lookup = player_games.player_lookup
          and team_games.game_id = player_games.game_id
  group by pairs.player_lookup, pairs.game_date
{%- endmacro %}
