{% macro log_rows_written() %}
  {#-
    Post-hook of the five output tables: logs how many rows this invocation wrote (inserted or
    updated; the stamp column is written_at_column, processed_at or updated_at). A re-run with
    unchanged inputs logs 0. Renders no SQL.
  -#}
  {%- if execute and model.config.get('materialized') == 'incremental' -%}
    {%- set written_at = model.config.get('written_at_column', 'processed_at') -%}
    {%- set started = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- set result = run_query(
        "select count(*) from " ~ this ~ " where " ~ written_at ~ " >= cast('" ~ started ~ "' as timestamp)"
        ~ " or created_at >= cast('" ~ started ~ "' as timestamp)") -%}
    {%- do log("rows written: " ~ this.identifier ~ " = " ~ result.columns[0].values()[0], info=true) -%}
  {%- endif -%}
{% endmacro %}
