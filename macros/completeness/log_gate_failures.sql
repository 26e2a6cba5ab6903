{#-
  on-run-end: for each data test that failed or warned in this invocation, logs its first failing
  rows, so the run's output names them without anyone running compiled SQL: a completeness gate
  its first 20 missing games (game id, date, what is missing); any other test up to 5 rows with the
  source table, the key and the broken rule and value (failing_rows_lines). The test's query runs
  again only then: a passing test costs one query, not two.
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
      {%- elif result.node.compiled_code -%}
        {%- do log(result.status | upper ~ " " ~ result.node.name ~ ", first failing rows:" ~ failing_rows_lines(result.node.compiled_code, result.node), info=true) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
