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


{% macro test_sql(test_node, tested) %}
  {#- The failing-rows query of a generic test, rendered from its own test macro against `tested` (a relation or subquery). -#}
  {%- set metadata = test_node.test_metadata -%}
  {%- set macros = gate_test_macros() -%}
  {%- if metadata.name not in macros -%}
    {{ exceptions.raise_compiler_error("test " ~ test_node.name ~ " uses " ~ metadata.name ~ ", which gate_test_macros() does not know; add it there.") }}
  {%- endif -%}
  {%- set kwargs = {} -%}
  {%- for key, value in metadata.kwargs.items() if key != 'model' -%}
    {%- do kwargs.update({key: render_argument(value)}) -%}
  {%- endfor -%}
  {%- do kwargs.update({'model': tested}) -%}
  {{ return(macros[metadata.name](**kwargs)) }}
{% endmacro %}


{% macro render_argument(value) %}
  {#- A test argument as dbt renders it for the test: ref('model') as its relation, Jinja in strings (nested in dicts and lists) rendered. -#}
  {%- if value is string -%}
    {%- set resolved = resolve_ref_argument(value) -%}
    {%- if resolved is not string -%}{{ return(resolved) }}{%- endif -%}
    {#- A ref inside a string (a subquery of an expression) as its relation: a runtime ref would need a DAG edge. -#}
    {%- set text = namespace(value=resolved) -%}
    {%- for match in modules.re.finditer("\\{\\{\\s*ref\\(\\s*['\"][A-Za-z0-9_]+['\"]\\s*\\)\\s*\\}\\}", resolved) -%}
      {%- set text.value = text.value.replace(match.group(0), resolve_ref_argument(match.group(0)) | string) -%}
    {%- endfor -%}
    {{ return(render(text.value) if '{{' in text.value or '{%' in text.value else text.value) }}
  {%- elif value is mapping -%}
    {%- set rendered = {} -%}
    {%- for key, item in value.items() -%}{%- do rendered.update({key: render_argument(item)}) -%}{%- endfor -%}
    {{ return(rendered) }}
  {%- elif value is iterable -%}
    {%- set rendered = [] -%}
    {%- for item in value -%}{%- do rendered.append(render_argument(item)) -%}{%- endfor -%}
    {{ return(rendered) }}
  {%- endif -%}
  {{ return(value) }}
{% endmacro %}


{% macro gate_sql(test_node, window) %}
  {#- The failing-rows query of a gate test, rendered from its own test macro for this run window. -#}
  {%- set attached = graph.nodes[test_node.attached_node] -%}
  {%- set relation = relation_of(attached.unique_id) -%}
  {%- set window_column = attached.config.get('window_column') -%}
  {%- set tested = '(select * from ' ~ relation ~ ' where ' ~ window_filter(window_column) ~ ')' if window_column else relation -%}
  {{ return(test_sql(test_node, tested)) }}
{% endmacro %}


{% macro gate_tests() %}
  {#- Every enabled gate test (tag gate), in a stable order. -#}
  {%- set tests = [] -%}
  {%- for test_node in graph.nodes.values() | sort(attribute='unique_id')
      if test_node.resource_type == 'test' and 'gate' in test_node.tags and test_node.config.enabled -%}
    {%- do tests.append(test_node) -%}
  {%- endfor -%}
  {{ return(tests) }}
{% endmacro %}


{% macro rebuilt_by_this_run(unique_id, selected) %}
  {#- True when this invocation rebuilds the persisted model `unique_id`: its stored rows are the previous window's until then. -#}
  {%- set node = graph.nodes[unique_id] -%}
  {{ return(unique_id in selected and node.resource_type == 'model' and node.config.materialized in ('table', 'incremental')) }}
{% endmacro %}


{% macro run_unselected_gates(ancestors, selected, window) %}
  {#-
    on-run-start: the gates that guard the selected outputs and that the selection does not run as
    tests. A gate on a persisted model that this run rebuilds (int_run_dates) is not judged here: its
    table still holds the previous invocation's window. run_gates_after_build judges it right after
    the model is built for this run's window, before any output reads it.
  -#}
  {%- set judged = [] -%}
  {%- for test_node in gate_tests()
      if test_node.unique_id not in selected and test_node.attached_node in ancestors
      and not rebuilt_by_this_run(test_node.attached_node, selected) -%}
    {%- set attached = graph.nodes[test_node.attached_node] -%}
    {%- if adapter.get_relation(database=attached.database, schema=attached.schema, identifier=attached.alias) is none -%}
      {#- Never built: nothing to check here; the stale-input check then names the missing input. -#}
      {%- continue -%}
    {%- endif -%}
    {%- do judged.append(test_node) -%}
  {%- endfor -%}
  {%- do judge_gates(judged, window, "Gates run by the guard (the selection does not include them)", "Gates failed before any model ran (nothing was written)") -%}
{% endmacro %}


{% macro run_gates_after_build() %}
  {#-
    Post-hook of a model that gates are attached to (int_run_dates): when the invocation does not
    run those gates as tests (`dbt run`, `--exclude tag:gate`, ...), judges them here, on the rows
    just built for this run's window. An error stops the model, so every output downstream of it is
    skipped before writing; a warning is logged (the merge keeps the failing dates' rows).
  -#}
  {%- if execute and flags.WHICH in ('run', 'build', 'retry') -%}
    {%- set selected = selected_resources | list -%}
    {%- set judged = [] -%}
    {%- for test_node in gate_tests() if test_node.attached_node == model.unique_id and test_node.unique_id not in selected -%}
      {%- do judged.append(test_node) -%}
    {%- endfor -%}
    {%- do judge_gates(judged, run_window(), "Gates on " ~ model.name ~ " (built for this run's window) run after it", "Gates on " ~ model.name ~ " failed for this run's window, before any output ran (nothing was written)") -%}
  {%- endif -%}
{% endmacro %}


{% macro judge_gates(test_nodes, window, passed_text, failed_text) %}
  {#- Runs gate tests: an error-severity failure raises naming the failing rows; a warning is logged. -#}
  {%- set failures = [] -%}
  {%- set passed = [] -%}
  {%- for test_node in test_nodes -%}
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
    {%- do log(passed_text ~ ": " ~ passed | length ~ " passed", info=true) -%}
  {%- endif -%}
  {%- if failures -%}
    {{ exceptions.raise_compiler_error(failed_text ~ ":\n  " ~ failures | join("\n  ")) }}
  {%- endif -%}
{% endmacro %}


{% macro gate_held_dates() %}
  {#-
    {gate name: [run dates]} of the warn-severity gates that fail for this run's window, judged once
    per invocation (kept on `graph`, like the run window). A gate names the run date it invalidates
    in its failing rows' column `run_date` (the upcoming-context gate: a slate without context); the
    hash merge keeps the existing rows of those dates (hash_merge_sql). A gate without that column
    (box scores of past games: they change values, they remove no rows) only warns.
    Error-severity gates are not judged here: they stopped the run before any output.
  -#}
  {%- set caches = graph.setdefault('nba_precompute_gate_holds', {}) -%}
  {%- if invocation_id not in caches -%}
    {%- set held = {} -%}
    {%- for test_node in gate_tests() if test_node.config.severity | lower != 'error' and graph.nodes[test_node.attached_node].config.get('window_column') -%}
      {%- set result = run_query('select * from (' ~ gate_sql(test_node, run_window()) ~ ') as failures') -%}
      {%- if 'run_date' in (result.column_names | map('lower') | list) and result.rows | length > 0 -%}
        {%- set dates = [] -%}
        {%- for row in result.rows -%}{%- do dates.append(row['run_date'] | string) -%}{%- endfor -%}
        {%- do held.update({test_node.unique_id: dates | unique | sort}) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- do caches.update({invocation_id: held}) -%}
  {%- endif -%}
  {{ return(caches[invocation_id]) }}
{% endmacro %}


{% macro held_run_dates(node) %}
  {#- {run date: [gate names]} the merge of `node` must keep as they are: failing warn gates on its inputs, minus the dates the operator lets go (allow_delete_dates). -#}
  {%- set ancestors = ancestor_ids([node.unique_id]) -%}
  {%- set released = allow_delete_dates() -%}
  {%- set held = {} -%}
  {%- for test_id, dates in gate_held_dates().items() if graph.nodes[test_id].attached_node in ancestors -%}
    {%- for run_date in dates if run_date not in released -%}
      {%- do held.setdefault(run_date, []).append(graph.nodes[test_id].name) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(held) }}
{% endmacro %}


{% macro allow_delete_dates() %}
  {#- The var allow_delete_dates (a date or a list of dates, YYYY-MM-DD) as a list of ISO strings. -#}
  {{ return(typed_var('allow_delete_dates') or []) }}
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
