{#-
  on-run-end: for each completeness gate that failed or warned in this invocation, logs its first
  20 missing games (game id, date, what is missing), so the run's output names them. The gate's
  query runs again only then: a passing gate costs one query, not two.
-#}
{% macro log_gate_failures(results) %}
  {%- set labels = {
      'scheduled_games_have_upcoming_context': 'completeness gate (upcoming context)',
      'final_games_have_box_scores': 'completeness gate (box scores)',
  } -%}
  {%- if execute -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status in ('fail', 'warn') -%}
      {%- set gate = (result.node.test_metadata or {}).name -%}
      {%- if gate in labels -%}
        {%- set failures = run_query(
            'select * from (' ~ result.node.compiled_code ~ ') as failures order by game_date, game_id limit 20') -%}
        {%- for row in failures.rows -%}
          {%- do log(labels[gate] ~ ": game " ~ row['game_id'] ~ " on " ~ row['game_date'] ~ " is missing " ~ row['missing'], info=true) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
