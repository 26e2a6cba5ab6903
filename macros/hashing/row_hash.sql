{#-
  Portable row hashing: the same values give the same lowercase md5 hex on DuckDB and BigQuery.

  Each value is rendered to text by its kind, NULL as the token <null>, and the parts are joined
  with '|' before md5:
    string     the text itself
    int        decimal digits
    bool       true / false
    float      round(x * 1e6) as a 64-bit integer (NUMERIC and DOUBLE alike)
    date       YYYY-MM-DD
    timestamp  epoch microseconds
    float_array / string_array   '[' elements rendered as above, joined with ',' ']'

  Which columns a hash covers is derived, never listed: every column of the relation, in its
  column order, except the bookkeeping ones named by the var `hash_bookkeeping_columns`
  (write timestamps, the hash itself, upstream *_last_updated, timings). The kind of each column
  comes from its warehouse type (hash_kind). So a column added to a model is hashed by itself.
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
    {%- do parts.append(hash_part(prefix ~ adapter.quote(name), kind)) -%}
  {%- endfor -%}
  {{ dbt.hash(parts | join(" || '|' || ")) }}
{%- endmacro %}


{% macro scalar_hash_kind(data_type) -%}
  {#- The hash kind of a scalar warehouse type (DuckDB or BigQuery spelling, lower case), or none. -#}
  {%- set t = data_type | lower | trim -%}
  {%- if t in ('varchar', 'string', 'text') or t.startswith(('varchar(', 'string(', 'character varying')) -%}{{ return('string') }}
  {%- elif t in ('tinyint', 'smallint', 'integer', 'int', 'bigint', 'hugeint', 'int64', 'utinyint', 'usmallint', 'uinteger', 'ubigint') -%}{{ return('int') }}
  {%- elif t in ('boolean', 'bool') -%}{{ return('bool') }}
  {%- elif t in ('double', 'float', 'real', 'float64', 'float8', 'float4') or t.startswith(('decimal', 'numeric', 'bignumeric')) -%}{{ return('float') }}
  {%- elif t == 'date' -%}{{ return('date') }}
  {%- elif t.startswith('timestamp') -%}{{ return('timestamp') }}
  {%- endif -%}
  {{ return(none) }}
{%- endmacro %}


{% macro hash_kind(column) -%}
  {#- The hash kind of a dbt Column from its warehouse type: scalars, DOUBLE[] / ARRAY<FLOAT64>, VARCHAR[] / ARRAY<STRING>. -#}
  {#- dtype is the raw type (DuckDB 'VARCHAR', 'DOUBLE[]'); BigQuery spells a REPEATED column only in data_type ('ARRAY<FLOAT64>'). -#}
  {%- set t = (column.data_type if (column.data_type | lower).startswith('array<') else column.dtype) | lower | trim -%}
  {%- set element = t[:-2] if t.endswith('[]') else (t[6:-1] if t.startswith('array<') else none) -%}
  {%- set kind = scalar_hash_kind(element if element is not none else t) -%}
  {%- if element is not none and kind in ('float', 'string') -%}
    {%- set kind = kind ~ '_array' -%}
  {%- elif element is not none -%}
    {%- set kind = none -%}
  {%- endif -%}
  {%- if kind is none -%}
    {{ exceptions.raise_compiler_error("row hash of " ~ this ~ ": column " ~ column.name ~ " has type " ~ column.data_type ~ ", which has no portable hash rendering. Cast it to a string, integer, boolean, number, date, timestamp or an array of numbers or strings in the model.") }}
  {%- endif -%}
  {{ return(kind) }}
{%- endmacro %}


{% macro is_bookkeeping_column(name) -%}
  {#- True for a column named (or matched, with * as a wildcard) by the var hash_bookkeeping_columns. -#}
  {%- for pattern in var('hash_bookkeeping_columns') -%}
    {%- if modules.re.fullmatch(modules.re.escape(pattern | lower).replace('\\*', '.*'), name | lower) -%}
      {{ return(true) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(false) }}
{%- endmacro %}


{% macro hashed_columns(columns, hash_column) -%}
  {#- name -> hash kind of every column but the bookkeeping ones and `hash_column`, in column order. -#}
  {%- set kinds = {} -%}
  {%- for column in columns if column.name | lower != hash_column and not is_bookkeeping_column(column.name) -%}
    {%- do kinds.update({column.name | lower: hash_kind(column)}) -%}
  {%- endfor -%}
  {{ return(kinds) }}
{%- endmacro %}


{% macro row_hash_column() -%}
  {#- The derived hash column of the current model: data_hash for a hash_merge model, else its config row_hash_column (or none). -#}
  {{ return('data_hash' if config.get('hash_merge') else config.get('row_hash_column')) }}
{%- endmacro %}


{% macro attach_row_hash() %}
  {#-
    Post-hook of every model (first in the hook list). When the model has a derived hash column
    (row_hash_column: data_hash for hash_merge models, input_fingerprint for prepared inputs) and
    this invocation created the table (first build, full refresh, table model), replaces the table
    with its rows plus that column. An incremental run of a hash_merge model computed it in the
    merge (hash_merge_sql) instead. Renders the statement, or nothing.
  -#}
  {%- set hash_column = row_hash_column() -%}
  {%- if not execute or not hash_column or model.get('merged') or flags.WHICH not in ('run', 'build', 'retry') -%}
    {{ return('') }}
  {%- endif -%}
  {%- set columns = adapter.get_columns_in_relation(this) -%}
  {%- if hash_column in columns | map(attribute='name') | map('lower') | list -%}
    {{ exceptions.raise_compiler_error("Model " ~ this ~ " returns a column " ~ hash_column ~ ", which the project derives from the model's other columns (macro attach_row_hash): remove it from the model.") }}
  {%- endif -%}
  {{ replace_with_row_hash(this, row_hash(hashed_columns(columns, hash_column)), hash_column) }}
{% endmacro %}


{% macro replace_with_row_hash(relation, hash_expression, hash_column) -%}
  {{ return(adapter.dispatch('replace_with_row_hash', 'nba_precompute')(relation, hash_expression, hash_column)) }}
{%- endmacro %}

{% macro default__replace_with_row_hash(relation, hash_expression, hash_column) -%}
  {{ unsupported_adapter('replace_with_row_hash') }}
{%- endmacro %}

{% macro duckdb__replace_with_row_hash(relation, hash_expression, hash_column) -%}
  create or replace table {{ relation }} as select *, {{ hash_expression }} as {{ hash_column }} from {{ relation }}
{%- endmacro %}

{% macro bigquery__replace_with_row_hash(relation, hash_expression, hash_column) -%}
  {#- dbt-bigquery's CREATE OR REPLACE keeps the model's partitioning and clustering (persist_docs runs after the hooks). -#}
  {{ get_create_table_as_sql(False, relation, 'select *, ' ~ hash_expression ~ ' as ' ~ hash_column ~ ' from ' ~ relation) }}
{%- endmacro %}


{% macro array_hash_text(expression, kind) -%}
  {{ return(adapter.dispatch('array_hash_text', 'nba_precompute')(expression, kind)) }}
{%- endmacro %}

{% macro default__array_hash_text(expression, kind) -%}
  {{ unsupported_adapter('array_hash_text') }}
{%- endmacro %}

{% macro duckdb__array_hash_text(expression, kind) -%}
  '[' || array_to_string(list_transform({{ expression }}, lambda x: {{ hash_part('x', 'float' if kind == 'float_array' else 'string') }}), ',') || ']'
{%- endmacro %}

{% macro bigquery__array_hash_text(expression, kind) -%}
  case when {{ expression }} is not null then concat('[', coalesce((
    select string_agg({{ hash_part('element', 'float' if kind == 'float_array' else 'string') }}, ',' order by position)
    from unnest({{ expression }}) as element with offset as position
  ), ''), ']') end
{%- endmacro %}
