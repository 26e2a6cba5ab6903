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
    float_array / string_array   '[' elements rendered as above, joined with ',' ']'; a NULL
               array renders as '[]', like an empty one, because BigQuery stores a NULL array
               as an empty one (so a row hashes alike on both engines)

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
    {{ array_hash_text(expression, kind) }}
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
  {{ dbt.hash(join_hash_parts(parts)) }}
{%- endmacro %}


{% macro join_hash_parts(parts) -%}
  {#- The parts (never NULL: each is coalesced) joined with '|'. -#}
  {{ return(adapter.dispatch('join_hash_parts', 'nba_precompute')(parts)) }}
{%- endmacro %}

{% macro default__join_hash_parts(parts) -%}
  {{ unsupported_adapter('join_hash_parts') }}
{%- endmacro %}

{% macro duckdb__join_hash_parts(parts) -%}
  {#- One concat_ws builds the string once; a chain of || copies the growing prefix at every step (2.5x slower on 60 columns). -#}
  concat_ws('|', {{ parts | join(', ') }})
{%- endmacro %}

{% macro bigquery__join_hash_parts(parts) -%}
  {{ parts | join(" || '|' || ") }}
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
  {%- for pattern in typed_var('hash_bookkeeping_columns') -%}
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


{% macro derived_row_hash(columns, hash_column, prefix='') -%}
  {#- The row hash expression over `columns` (the model's columns), refusing a model that returns hash_column itself. -#}
  {%- if hash_column in columns | map(attribute='name') | map('lower') | list -%}
    {{ exceptions.raise_compiler_error("Model " ~ this ~ " returns a column " ~ hash_column ~ ", which the project derives from the model's other columns (macros/hashing/row_hash.sql): remove it from the model.") }}
  {%- endif -%}
  {{ return(row_hash(hashed_columns(columns, hash_column), prefix)) }}
{%- endmacro %}


{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
  {#-
    dbt's create_table_as (the adapter's, through dispatch), with one addition: when a SQL model with
    a derived hash column (row_hash_column) creates its table (first build, full refresh, a table
    model), the statement computes that column in the same pass, from the columns of the model's
    query (a zero-row query types them), so the table is written once. The incremental path's
    temporary relation is left as the model returns it: the merge derives the hash (hash_merge_sql).
    Other callers pass through unchanged (kwargs: dbt-duckdb's partitioned_by, sorted_by).
  -#}
  {%- set hash_column = row_hash_column() if (execute and model.resource_type == 'model') else none -%}
  {#- model.language: a Python model's post-hook (bigquery__replace_with_row_hash) comes through here too. -#}
  {%- if hash_column and language == 'sql' and model.language == 'sql' and not is_incremental() -%}
    {%- set hash = derived_row_hash(get_column_schema_from_query(compiled_code), hash_column, 'dbt_model_rows.') -%}
    {%- set compiled_code = 'select dbt_model_rows.*, ' ~ hash ~ ' as ' ~ hash_column ~ ' from (\n' ~ compiled_code ~ '\n) as dbt_model_rows' -%}
    {%- do model.update({'row_hash_written': true}) -%}
  {%- endif -%}
  {{ return(adapter.dispatch('create_table_as', 'dbt')(temporary, relation, compiled_code, language, **kwargs)) }}
{%- endmacro %}


{% macro attach_row_hash() %}
  {#-
    Post-hook of every model (first in the hook list). For a model with a derived hash column
    (row_hash_column) whose table this invocation created without it, that is a Python model's first
    build or full refresh, replaces the table with its rows plus that column. A SQL model's create
    statement computed it already (create_table_as above), a merge too (hash_merge_sql). Renders the
    statement, or nothing.
  -#}
  {%- set hash_column = row_hash_column() -%}
  {%- if not execute or not hash_column or model.get('merged') or model.get('row_hash_written') or flags.WHICH not in ('run', 'build', 'retry') -%}
    {{ return('') }}
  {%- endif -%}
  {{ replace_with_row_hash(this, derived_row_hash(adapter.get_columns_in_relation(this), hash_column), hash_column) }}
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
  '[' || coalesce(array_to_string(list_transform({{ expression }}, lambda x: {{ hash_part('x', 'float' if kind == 'float_array' else 'string') }}), ','), '') || ']'
{%- endmacro %}

{% macro bigquery__array_hash_text(expression, kind) -%}
  concat('[', coalesce((
    select string_agg({{ hash_part('element', 'float' if kind == 'float_array' else 'string') }}, ',' order by position)
    from unnest({{ expression }}) as element with offset as position
  ), ''), ']')
{%- endmacro %}
