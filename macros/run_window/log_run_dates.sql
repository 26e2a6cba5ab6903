{% macro log_run_dates() %}
  {#- Post-hook of int_run_dates: says how many game dates the run covers, and says so when there are none. -#}
  {%- if execute -%}
    {%- set result = run_query("select count(*), cast(min(game_date) as " ~ dbt.type_string() ~ "), cast(max(game_date) as " ~ dbt.type_string() ~ ") from " ~ this) -%}
    {%- set row = result.rows[0] -%}
    {%- if row[0] == 0 -%}
      {%- do log("Run window holds no game dates: every output table gets zero rows for it (nothing to build).", info=true) -%}
    {%- else -%}
      {%- do log("Run window: " ~ row[0] ~ " game date(s), " ~ row[1] ~ " to " ~ row[2], info=true) -%}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}
