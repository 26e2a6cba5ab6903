{#- Feature health (models/predictions/feature_health.sql): the engine-specific pieces, everything else is plain SQL.
    One implementation per adapter; default__x raises (macro unsupported_adapter in macros/cross_db/shims.sql). -#}

{% macro unnest_feature_store(relation) -%}
  {#-
    One row per (row of `relation`, feature): game_date, player_lookup, team_key (the player's team
    on that date, as opponent and home/away), context_key and feature_version (passed through: the
    row's schedule context and version), feature_index (0-based), feature_name, feature_value, feature_source. The names come from the store's own feature_names
    column, so the health model never holds a second list of features.
  -#}
  {{ return(adapter.dispatch('unnest_feature_store')(relation)) }}
{%- endmacro %}

{% macro duckdb__unnest_feature_store(relation) -%}
    select
        game_date,
        player_lookup,
        concat(coalesce(opponent_team_abbr, '?'), case when is_home then '@home' else '@away' end) as team_key,
        context_key,
        feature_version,
        unnest(range(len(feature_names))) as feature_index,
        unnest(feature_names) as feature_name,
        unnest(features) as feature_value,
        unnest(feature_sources) as feature_source
    from {{ relation }}
{%- endmacro %}

{% macro default__unnest_feature_store(relation) -%} {{ unsupported_adapter('unnest_feature_store') }} {%- endmacro %}
{% macro bigquery__unnest_feature_store(relation) -%}
    select
        store.game_date,
        store.player_lookup,
        concat(coalesce(store.opponent_team_abbr, '?'), case when store.is_home then '@home' else '@away' end) as team_key,
        store.context_key,
        store.feature_version,
        feature_index,
        feature_name,
        feature_value,
        feature_source
    from {{ relation }} as store
    cross join unnest(store.feature_names) as feature_name with offset as feature_index
    inner join unnest(store.features) as feature_value with offset as value_index on value_index = feature_index
    inner join unnest(store.feature_sources) as feature_source with offset as source_index on source_index = feature_index
{%- endmacro %}


{% macro is_nan(expression) -%}
  {#- TRUE when a float is NaN (NULL stays NULL). -#}
  {{ return(adapter.dispatch('is_nan')(expression)) }}
{%- endmacro %}
{% macro duckdb__is_nan(expression) -%} isnan({{ expression }}) {%- endmacro %}
{% macro default__is_nan(expression) -%} {{ unsupported_adapter('is_nan') }} {%- endmacro %}
{% macro bigquery__is_nan(expression) -%} is_nan({{ expression }}) {%- endmacro %}


{% macro array_count_equal(array, value, first_n=none) -%}
  {#- How many elements of a string array (its first `first_n` when given) equal `value` (a SQL literal); NULL array -> NULL. -#}
  {{ return(adapter.dispatch('array_count_equal')(array, value, first_n)) }}
{%- endmacro %}
{% macro duckdb__array_count_equal(array, value, first_n=none) -%}
    len(list_filter({{ 'list_slice(' ~ array ~ ', 1, ' ~ first_n ~ ')' if first_n is not none else array }}, lambda element: element = {{ value }}))
{%- endmacro %}
{% macro default__array_count_equal(array, value, first_n=none) -%} {{ unsupported_adapter('array_count_equal') }} {%- endmacro %}
{% macro bigquery__array_count_equal(array, value, first_n=none) -%}
    (select countif(element = {{ value }}) from unnest({{ array }}) as element with offset as position
    {%- if first_n is not none %} where position < {{ first_n }}{% endif %})
{%- endmacro %}
