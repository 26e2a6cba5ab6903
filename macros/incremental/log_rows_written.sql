{% macro log_rows_written() %}
  {#-
    Post-hook of the output tables: logs how many rows this invocation wrote (inserted or updated;
    the stamp column is written_at_column, processed_at or updated_at) and how many the merge
    deleted. A re-run with unchanged inputs logs 0 and 0. Renders no SQL.
  -#}
  {%- if execute and model.config.get('materialized') == 'incremental' -%}
    {%- set written_at = model.config.get('written_at_column', 'processed_at') -%}
    {%- set started = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- set result = run_query(
        "select count(*) from " ~ this ~ " where " ~ written_at ~ " >= cast('" ~ started ~ "' as timestamp)"
        ~ " or created_at >= cast('" ~ started ~ "' as timestamp)") -%}
    {%- do log("rows written: " ~ this.identifier ~ " = " ~ result.columns[0].values()[0], info=true) -%}
    {#- guard_deletions (the merge) left its count on the node; a first build or full refresh merges nothing. -#}
    {%- do log("rows deleted: " ~ this.identifier ~ " = " ~ model.get('rows_deleted', 0), info=true) -%}
  {%- endif -%}
{% endmacro %}


{% macro drop_leftover_temp_tables() %}
  {#-
    Post-hook of the output tables: dbt-duckdb materializes a Python incremental model's rows in a
    real table <model>__dbt_tmp<timestamp> (schema main) and never drops it, so every run would leave
    a full copy in the database file. Drops them; a no-op elsewhere (BigQuery temp tables expire).
  -#}
  {%- if execute and target.type == 'duckdb' and model.language == 'python' -%}
    {%- set leftovers = run_query(
        "select table_catalog, table_schema, table_name from information_schema.tables"
        ~ " where table_name like '" ~ this.identifier ~ "__dbt_tmp%' and table_type = 'BASE TABLE'") -%}
    {%- for row in leftovers.rows -%}
      {%- do run_query('drop table if exists "' ~ row[0] ~ '"."' ~ row[1] ~ '"."' ~ row[2] ~ '"') -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
