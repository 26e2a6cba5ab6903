{#-
  on-run-end: for each data test that failed or warned in this invocation, logs its first failing
  rows, so the run's output names them without anyone running compiled SQL:
    - a completeness gate: its first 20 missing games (game id, date, what is missing);
    - the readiness gate (slate_is_ready): the first 30 dates with the version, the gold-or-silver
      share and the share it needs;
    - the feature-health gate (no_feature_health_alert): the first 30 alerts with the date, feature,
      version, cause, PSI and default share;
    - any other test: up to 5 rows with the source table, the key and the broken rule and value
      (failing_rows_lines).
  The test's query runs again only then: a passing test costs one query, not two.
-#}
{% macro log_test_failures(results) %}
  {%- set completeness_gates = {
      'scheduled_games_have_upcoming_context': 'completeness gate (upcoming context)',
      'final_games_have_box_scores': 'completeness gate (box scores)',
  } -%}
  {%- if execute -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status in ('fail', 'warn') and result.node.compiled_code -%}
      {%- set test = (result.node.test_metadata or {}).name -%}
      {%- set level = 'failed' if result.status == 'fail' else 'warns' -%}
      {%- set failing = 'select * from (' ~ result.node.compiled_code ~ ') as failures order by ' -%}
      {%- if test in completeness_gates -%}
        {%- for row in run_query(failing ~ 'game_date, game_id limit 20').rows -%}
          {%- do log(completeness_gates[test] ~ ": game " ~ row['game_id'] ~ " on " ~ row['game_date'] ~ " is missing " ~ row['missing'], info=true) -%}
        {%- endfor -%}
      {%- elif test == 'slate_is_ready' -%}
        {%- for row in run_query(failing ~ 'game_date limit 30').rows -%}
          {%- do log("readiness gate " ~ level ~ ": on " ~ row['game_date'] ~ " (" ~ row['feature_version'] ~ ") only "
              ~ '%.1f' | format((row['gold_silver_share'] or 0) * 100) ~ "% of the slate is gold or silver ("
              ~ row['gold_silver_rows'] ~ " of " ~ row['slate_players'] ~ " players); the gate needs "
              ~ '%.0f' | format(row['min_share'] * 100) ~ "% (var slate_ready_min_share)", info=true) -%}
        {%- endfor -%}
      {%- elif test == 'no_feature_health_alert' -%}
        {%- for row in run_query(failing ~ 'game_date, feature_name, feature_version limit 30').rows -%}
          {%- do log("feature health alert (" ~ level ~ "): " ~ row['game_date'] ~ " " ~ row['feature_name'] ~ " (" ~ row['feature_version'] ~ "): " ~ row['cause']
              ~ " (PSI " ~ ('%.2f' | format(row['psi']) if row['psi'] is not none else 'n/a')
              ~ ", default share " ~ '%.0f' | format((row['default_share'] or 0) * 100) ~ "%)", info=true) -%}
        {%- endfor -%}
      {%- else -%}
        {%- do log(result.status | upper ~ " " ~ result.node.name ~ ", first failing rows:" ~ failing_rows_lines(result.node.compiled_code, result.node), info=true) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
