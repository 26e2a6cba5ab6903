{#-
  Order-independent fingerprint of a set of upstream rows (docs/decisions.md#source-tracking): the md5 of the row
  count and the sum of the first 48 bits of the md5 of each row's hash (so any text works as an
  upstream data_hash). Works as an aggregate or, with `over`, as a window function, identically on
  DuckDB and BigQuery. NULL when the set is empty.
-#}
{% macro fingerprint_agg(hash_expression, over=none) -%}
  {%- set window = (' over (' ~ over ~ ')') if over else '' -%}
  case when count({{ hash_expression }}){{ window }} > 0 then {{ dbt.hash(
      "cast(count(" ~ hash_expression ~ ")" ~ window ~ " as " ~ dbt.type_string() ~ ") || ':' || cast(sum("
      ~ hex48_to_int(dbt.hash(hash_expression)) ~ ")" ~ window ~ " as " ~ dbt.type_string() ~ ")") }} end
{%- endmacro %}


{% macro hex48_to_int(expression) -%}
  {{ return(adapter.dispatch('hex48_to_int', 'nba_precompute')(expression)) }}
{%- endmacro %}

{% macro default__hex48_to_int(expression) -%}
  {{ unsupported_adapter('hex48_to_int') }}
{%- endmacro %}

{% macro duckdb__hex48_to_int(expression) -%}
  cast(('0x' || substr({{ expression }}, 1, 12)) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro bigquery__hex48_to_int(expression) -%}
  cast(concat('0x', substr({{ expression }}, 1, 12)) as int64)
{%- endmacro %}


{% macro fingerprint_one(hash_expression) -%}
  {#- fingerprint_agg of a set holding exactly one row (NULL when the row is absent). -#}
  case when {{ hash_expression }} is not null then {{ dbt.hash("'1:' || cast(" ~ hex48_to_int(dbt.hash(hash_expression)) ~ " as " ~ dbt.type_string() ~ ")") }} end
{%- endmacro %}
