{#-
  Cross-engine shims: where dbt's own cross-database macros differ between DuckDB and BigQuery.
  Each shim has one implementation per adapter it serves (duckdb__x, bigquery__x); default__x
  raises a compiler error naming the adapter, so a new engine fails at compile time instead of
  running DuckDB SQL. (docs/decisions.md#two-engines)
-#}

{% macro unsupported_adapter(macro_name) -%}
  {{ exceptions.raise_compiler_error(
      "macro " ~ macro_name ~ " has no implementation for the adapter '" ~ adapter.type()
      ~ "': the project implements it for duckdb and bigquery only (duckdb__" ~ macro_name
      ~ ", bigquery__" ~ macro_name ~ "); add " ~ adapter.type() ~ "__" ~ macro_name ~ " beside them") }}
{%- endmacro %}

{% macro type_float64() -%}
  {#- Not dbt.type_float(): it renders a 32-bit float on DuckDB. -#}
  {{ return(adapter.dispatch('type_float64', 'nba_precompute')()) }}
{%- endmacro %}
{% macro duckdb__type_float64() -%} double {%- endmacro %}
{% macro default__type_float64() -%} {{ unsupported_adapter('type_float64') }} {%- endmacro %}
{% macro bigquery__type_float64() -%} float64 {%- endmacro %}


{% macro type_numeric(precision, scale) -%}
  {{ return(adapter.dispatch('type_numeric', 'nba_precompute')(precision, scale)) }}
{%- endmacro %}
{% macro duckdb__type_numeric(precision, scale) -%} decimal({{ precision }}, {{ scale }}) {%- endmacro %}
{% macro default__type_numeric(precision, scale) -%} {{ unsupported_adapter('type_numeric') }} {%- endmacro %}
{#- BigQuery refuses parameterized types in CAST: plain NUMERIC (scale 9); to_numeric rounds to the scale. -#}
{% macro bigquery__type_numeric(precision, scale) -%} numeric {%- endmacro %}


{% macro to_numeric(expression, precision, scale) -%}
  {#-
    Store a value at its legacy NUMERIC(p,s) scale: rounded once, half away from zero, on both
    engines. The value is first snapped to 9 decimals as NUMERIC, so an exact tie such as 51/80 =
    0.6375 rounds up on both engines instead of by the binary noise of its float64 form.
  -#}
  cast(round(cast(cast({{ expression }} as {{ type_float64() }}) as {{ type_numeric(38, 9) }}), {{ scale }}) as {{ type_numeric(precision, scale) }})
{%- endmacro %}


{% macro safe_divide(numerator, denominator) -%}
  {{ return(adapter.dispatch('safe_divide', 'nba_precompute')(numerator, denominator)) }}
{%- endmacro %}
{% macro duckdb__safe_divide(numerator, denominator) -%}
  (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
{% macro default__safe_divide(numerator, denominator) -%} {{ unsupported_adapter('safe_divide') }} {%- endmacro %}
{% macro bigquery__safe_divide(numerator, denominator) -%}
  safe_divide({{ numerator }}, {{ denominator }})
{%- endmacro %}


{% macro date_add_days(date_expression, days) -%}
  {#- Not dbt.dateadd(): it returns a timestamp, and the date columns must stay DATE on both engines. -#}
  {{ return(adapter.dispatch('date_add_days', 'nba_precompute')(date_expression, days)) }}
{%- endmacro %}
{% macro duckdb__date_add_days(date_expression, days) -%}
  cast({{ date_expression }} + cast({{ days }} as integer) as date)
{%- endmacro %}
{% macro default__date_add_days(date_expression, days) -%} {{ unsupported_adapter('date_add_days') }} {%- endmacro %}
{% macro bigquery__date_add_days(date_expression, days) -%}
  date_add({{ date_expression }}, interval {{ days }} day)
{%- endmacro %}


{% macro days_between(start_date, end_date) -%}
  {#- Whole days from start_date to end_date (end - start), as an integer. -#}
  {{ return(adapter.dispatch('days_between', 'nba_precompute')(start_date, end_date)) }}
{%- endmacro %}
{% macro duckdb__days_between(start_date, end_date) -%}
  date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}
{% macro default__days_between(start_date, end_date) -%} {{ unsupported_adapter('days_between') }} {%- endmacro %}
{% macro bigquery__days_between(start_date, end_date) -%}
  date_diff({{ end_date }}, {{ start_date }}, day)
{%- endmacro %}


{% macro epoch_micros(expression) -%}
  {{ return(adapter.dispatch('epoch_micros', 'nba_precompute')(expression)) }}
{%- endmacro %}
{% macro duckdb__epoch_micros(expression) -%} epoch_us(cast({{ expression }} as timestamp)) {%- endmacro %}
{% macro default__epoch_micros(expression) -%} {{ unsupported_adapter('epoch_micros') }} {%- endmacro %}
{% macro bigquery__epoch_micros(expression) -%} unix_micros(cast({{ expression }} as timestamp)) {%- endmacro %}


{% macro duckdb__safe_cast(field, type) -%}
  {#- dbt.safe_cast renders a plain (raising) cast on DuckDB; try_cast returns NULL like BigQuery's safe_cast. -#}
  try_cast({{ field }} as {{ type }})
{%- endmacro %}


{% macro string_array(expressions) -%}
  {#- An array literal of strings; NULL elements are dropped (an empty list when none remain). -#}
  {{ return(adapter.dispatch('string_array', 'nba_precompute')(expressions)) }}
{%- endmacro %}
{% macro duckdb__string_array(expressions) -%}
  list_filter([{{ expressions | join(', ') }}]::varchar[], lambda x: x is not null)
{%- endmacro %}
{% macro default__string_array(expressions) -%} {{ unsupported_adapter('string_array') }} {%- endmacro %}
{% macro bigquery__string_array(expressions) -%}
  array(select x from unnest([{{ expressions | join(', ') }}]) as x with offset as position where x is not null order by position)
{%- endmacro %}


{% macro utc_now() -%}
  {{ return(adapter.dispatch('utc_now', 'nba_precompute')()) }}
{%- endmacro %}
{% macro duckdb__utc_now() -%} cast(get_current_timestamp() as timestamptz) {%- endmacro %}
{% macro default__utc_now() -%} {{ unsupported_adapter('utc_now') }} {%- endmacro %}
{% macro bigquery__utc_now() -%} current_timestamp() {%- endmacro %}


{% macro is_not_finite(column) -%}
  {#- True for NaN and +-infinity, NULL for NULL. -#}
  {{ return(adapter.dispatch('is_not_finite', 'nba_precompute')(column)) }}
{%- endmacro %}
{% macro duckdb__is_not_finite(column) -%} not isfinite({{ column }}) {%- endmacro %}
{% macro default__is_not_finite(column) -%} {{ unsupported_adapter('is_not_finite') }} {%- endmacro %}
{% macro bigquery__is_not_finite(column) -%} (is_inf({{ column }}) or is_nan({{ column }})) {%- endmacro %}

{% macro duckdb__get_partitioned_by(relation, temporary) -%}
  {#-
    Overrides dbt-duckdb's macro of this name (its table and incremental materializations call it by
    name, and a root-project macro comes first). Models state partitioning once, as dbt-bigquery's
    partition_by ({'field': <window column>, 'data_type': 'date', 'granularity': 'day'}). dbt-duckdb
    reads the same key as DuckLake partitioning: it rejects that dict, and on a plain DuckDB file it
    would ignore any value with a warning per model. The project's DuckDB is a plain file, which has
    no partitions: no partitioning, silently.
  -#}
  {{ return(none) }}
{%- endmacro %}
