{#- Logs the first 20 rows of a completeness gate's failures (game id, date, what is missing). -#}
{% macro log_gate_failures(gate_name, sql) %}
  {%- if execute and flags.WHICH in ('build', 'test') -%}
    {%- set result = run_query('select * from (' ~ sql ~ ') as failures order by game_date, game_id limit 20') -%}
    {%- for row in result.rows -%}
      {%- do log(gate_name ~ ": game " ~ row['game_id'] ~ " on " ~ row['game_date'] ~ " is missing " ~ row['missing'], info=true) -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
