{#-
  Portable row hashing (spec §5 decision 6). The same values give the same lowercase hex on
  DuckDB and BigQuery, and on the Python twin `row_hash()` inside the Python models.

  Each value is rendered to text by its kind, NULL as the token <null>, and the parts are joined
  with '|' before md5:
    string     the text itself
    int        decimal digits
    bool       true / false
    float      round(x * 1e6) as a 64-bit integer (NUMERIC and DOUBLE alike)
    date       YYYY-MM-DD
    timestamp  epoch microseconds
    float_array / string_array   '[' elements rendered as above, joined with ',' ']'
-#}

{% macro hash_part(expression, kind) -%}
  {%- if kind == 'string' -%}
    coalesce(cast({{ expression }} as {{ dbt.type_string() }}), '<null>')
  {%- elif kind == 'int' -%}
    coalesce(cast(cast({{ expression }} as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }}), '<null>')
  {%- elif kind == 'bool' -%}
    coalesce(case when {{ expression }} then 'true' when not {{ expression }} then 'false' end, '<null>')
  {%- elif kind == 'float' -%}
    coalesce(cast(cast(round(cast({{ expression }} as {{ type_float64() }}) * 1000000) as {{ dbt.type_bigint() }}) as {{ dbt.type_string() }}), '<null>')
  {%- elif kind == 'date' -%}
    coalesce(cast(cast({{ expression }} as date) as {{ dbt.type_string() }}), '<null>')
  {%- elif kind == 'timestamp' -%}
    coalesce(cast({{ epoch_micros(expression) }} as {{ dbt.type_string() }}), '<null>')
  {%- elif kind in ('float_array', 'string_array') -%}
    coalesce({{ array_hash_text(expression, kind) }}, '<null>')
  {%- else -%}
    {{ exceptions.raise_compiler_error("hash_part: unknown kind '" ~ kind ~ "' for " ~ expression ~ "; use string, int, bool, float, date, timestamp, float_array or string_array.") }}
  {%- endif -%}
{%- endmacro %}


{% macro row_hash(columns, prefix='') -%}
  {#- columns: mapping column name -> kind (see above), in hashing order. prefix: optional table alias with dot. -#}
  {%- set parts = [] -%}
  {%- for name, kind in columns.items() -%}
    {%- do parts.append(hash_part(prefix ~ name, kind)) -%}
  {%- endfor -%}
  {{ dbt.hash(parts | join(" || '|' || ")) }}
{%- endmacro %}


{% macro array_hash_text(expression, kind) -%}
  {{ return(adapter.dispatch('array_hash_text', 'nba_precompute')(expression, kind)) }}
{%- endmacro %}

{% macro default__array_hash_text(expression, kind) -%}
  '[' || array_to_string(list_transform({{ expression }}, lambda x: {{ hash_part('x', 'float' if kind == 'float_array' else 'string') }}), ',') || ']'
{%- endmacro %}

{% macro bigquery__array_hash_text(expression, kind) -%}
  case when {{ expression }} is not null then concat('[', coalesce((
    select string_agg({{ hash_part('element', 'float' if kind == 'float_array' else 'string') }}, ',' order by position)
    from unnest({{ expression }}) as element with offset as position
  ), ''), ']') end
{%- endmacro %}
