{#-
  on-run-end: for each feature gate (readiness, feature-health alert) that failed or warned in this
  invocation, logs its failing rows (first 30) so the run's output names the date, the share or the
  feature and its cause. The gate's query runs again only then: a passing gate costs one query.
-#}
{% macro log_feature_gate_failures(results) %}
  {%- if execute -%}
    {%- for result in results if result.node.resource_type == 'test' and result.status in ('fail', 'warn') -%}
      {%- set gate = (result.node.test_metadata or {}).name -%}
      {%- set level = 'failed' if result.status == 'fail' else 'warns' -%}
      {%- if gate == 'slate_is_ready' -%}
        {%- set failures = run_query('select * from (' ~ result.node.compiled_code ~ ') as failures order by game_date limit 30') -%}
        {%- for row in failures.rows -%}
          {%- do log("readiness gate " ~ level ~ ": on " ~ row['game_date'] ~ " (" ~ row['feature_version'] ~ ") only "
              ~ '%.1f' | format((row['gold_silver_share'] or 0) * 100) ~ "% of the slate is gold or silver ("
              ~ row['gold_silver_rows'] ~ " of " ~ row['slate_players'] ~ " players); the gate needs "
              ~ '%.0f' | format(row['min_share'] * 100) ~ "% (var slate_ready_min_share)", info=true) -%}
        {%- endfor -%}
      {%- elif gate == 'no_feature_health_alert' -%}
        {%- set failures = run_query('select * from (' ~ result.node.compiled_code ~ ') as failures order by game_date, feature_name, feature_version limit 30') -%}
        {%- for row in failures.rows -%}
          {%- do log("feature health alert (" ~ level ~ "): " ~ row['game_date'] ~ " " ~ row['feature_name'] ~ " (" ~ row['feature_version'] ~ "): " ~ row['cause']
              ~ " (PSI " ~ ('%.2f' | format(row['psi']) if row['psi'] is not none else 'n/a')
              ~ ", default share " ~ '%.0f' | format((row['default_share'] or 0) * 100) ~ "%)", info=true) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
