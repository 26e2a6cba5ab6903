{#-
  Gate tests (tag `gate`) guard every output table: the staging input rules, the schedule checks of
  the box scores and the completeness gates. `dbt build --select +<output>` runs them as tests
  before the output models; a selection without them (`--select ml_feature_store_v2`) runs them in
  the on-run-start guard instead, through the same test macros, so the rule exists once.
-#}

{% macro gate_test_macros() %}
  {#- The generic tests a gate may use (a name dbt resolves to its test macro). -#}
  {{ return({
      'column_rules': test_column_rules,
      'box_scores_match_schedule': test_box_scores_match_schedule,
      'scheduled_games_have_upcoming_context': test_scheduled_games_have_upcoming_context,
      'final_games_have_box_scores': test_final_games_have_box_scores,
  }) }}
{% endmacro %}


{% macro relation_of(unique_id) %}
  {%- set node = graph.nodes[unique_id] -%}
  {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{% endmacro %}


{% macro resolve_ref_argument(value) %}
  {#- A test argument written as ref('model') in YAML, as the relation of that model. -#}
  {%- set match = modules.re.match("^\\s*(?:\\{\\{\\s*)?ref\\(\\s*['\"]([A-Za-z0-9_]+)['\"]\\s*\\)(?:\\s*\\}\\})?\\s*$", value) if value is string else none -%}
  {%- if not match -%}{{ return(value) }}{%- endif -%}
  {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed') and node.name == match.group(1) -%}
    {{ return(relation_of(node.unique_id)) }}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error("gate argument " ~ value ~ ": no model of that name") }}
{% endmacro %}


{% macro gate_sql(test_node, window) %}
  {#- The failing-rows query of a gate test, rendered from its own test macro for this run window. -#}
  {%- set metadata = test_node.test_metadata -%}
  {%- set macros = gate_test_macros() -%}
  {%- if metadata.name not in macros -%}
    {{ exceptions.raise_compiler_error("gate test " ~ test_node.name ~ " uses " ~ metadata.name ~ ", which gate_test_macros() does not know; add it there.") }}
  {%- endif -%}
  {%- set kwargs = {} -%}
  {%- for key, value in metadata.kwargs.items() if key != 'model' -%}
    {%- do kwargs.update({key: resolve_ref_argument(value)}) -%}
  {%- endfor -%}
  {%- set attached = graph.nodes[test_node.attached_node] -%}
  {%- set relation = relation_of(attached.unique_id) -%}
  {%- set window_column = attached.config.get('window_column') -%}
  {%- set tested = '(select * from ' ~ relation ~ ' where ' ~ window_filter(window_column) ~ ')' if window_column else relation -%}
  {%- do kwargs.update({'model': tested}) -%}
  {{ return(macros[metadata.name](**kwargs)) }}
{% endmacro %}


{% macro run_unselected_gates(ancestors, selected, window) %}
  {%- set failures = [] -%}
  {%- set passed = [] -%}
  {%- for test_node in graph.nodes.values() | sort(attribute='unique_id')
      if test_node.resource_type == 'test' and 'gate' in test_node.tags and test_node.config.enabled
      and test_node.unique_id not in selected and test_node.attached_node in ancestors -%}
    {%- set attached = graph.nodes[test_node.attached_node] -%}
    {%- if adapter.get_relation(database=attached.database, schema=attached.schema, identifier=attached.alias) is none -%}
      {#- Never built: nothing to check here; the stale-input check then names the missing input. -#}
      {%- continue -%}
    {%- endif -%}
    {%- set sql = gate_sql(test_node, window) -%}
    {%- set count = run_query('select count(*) from (' ~ sql ~ ') as failures').columns[0].values()[0] -%}
    {%- if count > 0 -%}
      {%- set lines = failing_rows_lines(sql, test_node) -%}
      {%- if test_node.config.severity | lower == 'error' -%}
        {%- do failures.append(test_node.name ~ " (" ~ count ~ " rows)" ~ lines) -%}
      {%- else -%}
        {%- do log("WARN gate " ~ test_node.name ~ " (" ~ count ~ " rows)" ~ lines, info=true) -%}
      {%- endif -%}
    {%- else -%}
      {%- do passed.append(test_node.name) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if passed -%}
    {%- do log("Gates run by the guard (the selection does not include them): " ~ passed | length ~ " passed", info=true) -%}
  {%- endif -%}
  {%- if failures -%}
    {{ exceptions.raise_compiler_error("Gates failed before any model ran (nothing was written):\n  " ~ failures | join("\n  ")) }}
  {%- endif -%}
{% endmacro %}


{% macro failing_rows_lines(sql, test_node, limit=5) %}
  {#-
    Up to `limit` failing rows of a test, one text line each: the tested model's source table, its
    key columns (from the model's grain check) and what failed. Shown in the console so nobody has
    to run compiled SQL to see which row broke which rule.
  -#}
  {%- set attached = graph.nodes.get(test_node.attached_node) if test_node.attached_node else none -%}
  {%- set key = [] -%}
  {%- set origin = [] -%}
  {%- if attached -%}
    {%- for other in graph.nodes.values() if other.resource_type == 'test' and other.attached_node == attached.unique_id
        and (other.test_metadata or {}).name == 'unique_combination_of_columns' -%}
      {%- do key.extend(other.test_metadata.kwargs.combination_of_columns) -%}
    {%- endfor -%}
    {%- for source_id in attached.depends_on.nodes if source_id in graph.sources -%}
      {%- do origin.append(graph.sources[source_id].source_name ~ '.' ~ graph.sources[source_id].name) -%}
    {%- endfor -%}
    {%- if not origin -%}{%- do origin.append(attached.name) -%}{%- endif -%}
  {%- endif -%}
  {%- set result = run_query('select * from (' ~ sql ~ ') as failures limit ' ~ limit) -%}
  {%- set names = result.column_names | map('lower') | list -%}
  {%- set shown = [] -%}
  {%- for name in key | unique if name | lower in names -%}{%- do shown.append(name | lower) -%}{%- endfor -%}
  {%- for name in ['player_lookup', 'game_id', 'game_date', 'team_abbr', 'defending_team_abbr', 'missing', 'schedule_game_date', 'broken_rule', 'broken_value'] if name in names and name not in shown -%}
    {%- do shown.append(name) -%}
  {%- endfor -%}
  {%- if not shown -%}{%- set shown = names[:6] -%}{%- endif -%}
  {%- set lines = [] -%}
  {%- for row in result.rows -%}
    {%- set cells = [] -%}
    {%- for name in shown -%}{%- do cells.append(name ~ '=' ~ row[names.index(name)]) -%}{%- endfor -%}
    {%- do lines.append("\n      " ~ (origin | join(', ') ~ ': ' if origin else '') ~ cells | join(', ')) -%}
  {%- endfor -%}
  {{ return(lines | join('')) }}
{% endmacro %}
