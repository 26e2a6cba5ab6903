{#- Cross-engine shims: where dbt's own cross-database macros differ between DuckDB and BigQuery. -#}

{% macro type_float64() -%}
  {{ return(adapter.dispatch('type_float64', 'nba_precompute')()) }}
{%- endmacro %}
{% macro default__type_float64() -%} double {%- endmacro %}
{% macro bigquery__type_float64() -%} float64 {%- endmacro %}


{% macro type_numeric(precision, scale) -%}
  {{ return(adapter.dispatch('type_numeric', 'nba_precompute')(precision, scale)) }}
{%- endmacro %}
{% macro default__type_numeric(precision, scale) -%} decimal({{ precision }}, {{ scale }}) {%- endmacro %}
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
{% macro default__safe_divide(numerator, denominator) -%}
  (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
{% macro bigquery__safe_divide(numerator, denominator) -%}
  safe_divide({{ numerator }}, {{ denominator }})
{%- endmacro %}


{% macro date_add_days(date_expression, days) -%}
  {{ return(adapter.dispatch('date_add_days', 'nba_precompute')(date_expression, days)) }}
{%- endmacro %}
{% macro default__date_add_days(date_expression, days) -%}
  cast({{ date_expression }} + cast({{ days }} as integer) as date)
{%- endmacro %}
{% macro bigquery__date_add_days(date_expression, days) -%}
  date_add({{ date_expression }}, interval {{ days }} day)
{%- endmacro %}


{% macro days_between(start_date, end_date) -%}
  {#- Whole days from start_date to end_date (end - start), as an integer. -#}
  {{ return(adapter.dispatch('days_between', 'nba_precompute')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__days_between(start_date, end_date) -%}
  date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}
{% macro bigquery__days_between(start_date, end_date) -%}
  date_diff({{ end_date }}, {{ start_date }}, day)
{%- endmacro %}


{% macro epoch_micros(expression) -%}
  {{ return(adapter.dispatch('epoch_micros', 'nba_precompute')(expression)) }}
{%- endmacro %}
{% macro default__epoch_micros(expression) -%} epoch_us(cast({{ expression }} as timestamp)) {%- endmacro %}
{% macro bigquery__epoch_micros(expression) -%} unix_micros(cast({{ expression }} as timestamp)) {%- endmacro %}


{% macro duckdb__safe_cast(field, type) -%}
  {#- dbt.safe_cast renders a plain (raising) cast on DuckDB; try_cast returns NULL like BigQuery's safe_cast. -#}
  try_cast({{ field }} as {{ type }})
{%- endmacro %}


{% macro string_array(expressions) -%}
  {#- An array literal of strings; NULL elements are dropped (an empty list when none remain). -#}
  {{ return(adapter.dispatch('string_array', 'nba_precompute')(expressions)) }}
{%- endmacro %}
{% macro default__string_array(expressions) -%}
  list_filter([{{ expressions | join(', ') }}]::varchar[], lambda x: x is not null)
{%- endmacro %}
{% macro bigquery__string_array(expressions) -%}
  array(select x from unnest([{{ expressions | join(', ') }}]) as x with offset as position where x is not null order by position)
{%- endmacro %}


{% macro utc_now() -%}
  {{ return(adapter.dispatch('utc_now', 'nba_precompute')()) }}
{%- endmacro %}
{% macro default__utc_now() -%} cast(get_current_timestamp() as timestamptz) {%- endmacro %}
{% macro bigquery__utc_now() -%} current_timestamp() {%- endmacro %}


{% macro is_not_finite(column) -%}
  {#- True for NaN and +-infinity, NULL for NULL. -#}
  {{ return(adapter.dispatch('is_not_finite', 'nba_precompute')(column)) }}
{%- endmacro %}
{% macro default__is_not_finite(column) -%} not isfinite({{ column }}) {%- endmacro %}
{% macro bigquery__is_not_finite(column) -%} (is_inf({{ column }}) or is_nan({{ column }})) {%- endmacro %}
