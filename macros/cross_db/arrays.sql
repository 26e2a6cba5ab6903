{#- Array expressions for data tests, in each engine's dialect (DuckDB lists and lambdas; BigQuery
    ARRAY functions and unnest subqueries). `element` names the array element inside `condition` /
    `expression`, which must be SQL both engines read (use is_not_finite() for NaN). Positions are
    1-based, as DuckDB's subscript. -#}

{% macro array_len(array) -%}
  {{ return(adapter.dispatch('array_len', 'nba_precompute')(array)) }}
{%- endmacro %}
{% macro default__array_len(array) -%} {{ unsupported_adapter('array_len') }} {%- endmacro %}
{% macro duckdb__array_len(array) -%} len({{ array }}) {%- endmacro %}
{% macro bigquery__array_len(array) -%} array_length({{ array }}) {%- endmacro %}

{% macro array_at(array, position) -%}
  {#- The element at 1-based `position` (NULL beyond the end). -#}
  {{ return(adapter.dispatch('array_at', 'nba_precompute')(array, position)) }}
{%- endmacro %}
{% macro default__array_at(array, position) -%} {{ unsupported_adapter('array_at') }} {%- endmacro %}
{% macro duckdb__array_at(array, position) -%} {{ array }}[{{ position }}] {%- endmacro %}
{% macro bigquery__array_at(array, position) -%} {{ array }}[safe_ordinal({{ position }})] {%- endmacro %}

{% macro array_count(array, element, condition) -%}
  {#- How many elements satisfy `condition` (a NULL condition does not count). -#}
  {{ return(adapter.dispatch('array_count', 'nba_precompute')(array, element, condition)) }}
{%- endmacro %}
{% macro default__array_count(array, element, condition) -%} {{ unsupported_adapter('array_count') }} {%- endmacro %}
{% macro duckdb__array_count(array, element, condition) -%}
  len(list_filter({{ array }}, lambda {{ element }}: {{ condition }}))
{%- endmacro %}
{% macro bigquery__array_count(array, element, condition) -%}
  (select count(*) from unnest({{ array }}) as {{ element }} where {{ condition }})
{%- endmacro %}

{% macro array_sum(array, element, expression) -%}
  {#- Sum of `expression` over the elements (NULL for an empty array). -#}
  {{ return(adapter.dispatch('array_sum', 'nba_precompute')(array, element, expression)) }}
{%- endmacro %}
{% macro default__array_sum(array, element, expression) -%} {{ unsupported_adapter('array_sum') }} {%- endmacro %}
{% macro duckdb__array_sum(array, element, expression) -%}
  list_sum(list_transform({{ array }}, lambda {{ element }}: {{ expression }}))
{%- endmacro %}
{% macro bigquery__array_sum(array, element, expression) -%}
  (select sum({{ expression }}) from unnest({{ array }}) as {{ element }})
{%- endmacro %}

{% macro array_elements_equal(array, first, last, value) -%}
  {#- Elements `first`..`last` (1-based, inclusive) all equal `value` (a SQL literal). -#}
  {%- set checks = [] -%}
  {%- for position in range(first, last + 1) -%}
    {%- do checks.append(array_at(array, position) ~ ' = ' ~ value) -%}
  {%- endfor -%}
  ({{ checks | join(' and ') }})
{%- endmacro %}
