{#-
  on-run-start guard: whatever a command selects, it never writes an output table from the wrong
  inputs, and it always runs the checks that guard the outputs it writes. Checked before any model
  runs, so a refusal writes nothing:

  1. sources exist (a mistyped DBT_DUCKDB_PATH is named, not built into an empty file);
  2. a --full-refresh with a date window never replaces an output that holds other dates;
  3. the gate tests (tag `gate`: staging input rules, schedule checks, completeness) that guard the
     selected outputs run here when the selection does not include them;
  4. source freshness as of the run (freshness_as_of), with the sources' own thresholds;
  5. every persisted input the selection reads without rebuilding it was built for a window that
     covers this one, from the sources as they are now (build stamps); otherwise the run stops,
     naming the input, the window it holds and the command to run.
-#}

{% macro guard_selection() %}
  {#- Only commands that write (compile, ls, docs and the offline BigQuery render write nothing). -#}
  {%- if not execute or flags.WHICH not in ('run', 'build', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- set selected = selected_resources | list -%}
  {%- set persisted = [] -%}
  {%- set outputs = [] -%}
  {%- for unique_id in selected if unique_id in graph.nodes and graph.nodes[unique_id].resource_type == 'model' -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- if node.config.materialized in ('table', 'incremental') -%}{%- do persisted.append(node) -%}{%- endif -%}
    {%- if node.config.materialized == 'incremental' -%}{%- do outputs.append(node) -%}{%- endif -%}
  {%- endfor -%}
  {%- if persisted | length == 0 -%}{{ return('') }}{%- endif -%}
  {%- do check_sources_exist() -%}
  {%- set window = run_window() -%}
  {%- set state = run_query(sources_state_sql()).columns[0].values()[0] -%}
  {%- if outputs | length > 0 -%}
    {%- do guard_full_refresh(outputs, window) -%}
    {%- set ancestors = ancestor_ids(outputs | map(attribute='unique_id') | list) -%}
    {#- Problems of the sources first (they name the game or source to fix), then stale inputs. -#}
    {%- do run_unselected_gates(ancestors, selected, window) -%}
    {%- do check_freshness_in_build(window) -%}
    {%- do guard_stale_inputs(outputs, ancestors, selected, window, state) -%}
  {%- endif -%}
  {%- do stamp_invocation(window, state) -%}
{% endmacro %}


{% macro ancestor_ids(node_ids) %}
  {#- Every node the given nodes read, directly or through others (models and seeds). -#}
  {%- set seen = [] -%}
  {%- set queue = node_ids | list -%}
  {%- for _ in range(10000) if queue | length > 0 -%}
    {%- set current = queue.pop(0) -%}
    {%- for parent in graph.nodes[current].depends_on.nodes if parent in graph.nodes and parent not in seen -%}
      {%- do seen.append(parent) -%}
      {%- do queue.append(parent) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(seen) }}
{% endmacro %}


{% macro check_sources_exist() %}
  {#-
    Every declared source table exists (otherwise the target is not the Phase 3 database) and has
    every column its YAML declares (otherwise the upstream renamed or dropped one: say which, before
    a model fails on it in the database's words).
  -#}
  {%- set missing = [] -%}
  {%- set renamed = [] -%}
  {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
    {%- set relation = adapter.get_relation(database=source.database, schema=source.schema, identifier=source.identifier) -%}
    {%- if relation is none -%}
      {%- do missing.append(source.source_name ~ '.' ~ source.name) -%}
    {%- else -%}
      {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
      {%- set absent = source.columns.keys() | reject('in', present) | list -%}
      {%- if absent -%}
        {%- do renamed.append("source " ~ source.source_name ~ '.' ~ source.name ~ " (" ~ relation ~ ") has no column " ~ absent | join(', ')
            ~ " (declared in " ~ source.original_file_path ~ "); its columns not declared there: " ~ (present | reject('in', source.columns.keys() | list) | join(', ') or 'none')) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if renamed and not missing -%}
    {{ exceptions.raise_compiler_error("The sources changed shape: " ~ renamed | join('; ') ~ ". Nothing was built. If the upstream renamed a column, map it in the staging model and its source YAML; otherwise ask the producer to restore it.") }}
  {%- endif -%}
  {%- if missing -%}
    {%- if target.type == 'duckdb' -%}
      {#- DuckDB creates a missing file when dbt connects, before any hook: say so, since a hook cannot delete it. -#}
      {%- set tables = run_query("select count(*) from information_schema.tables where table_schema not in ('information_schema', 'pg_catalog')").columns[0].values()[0] -%}
      {%- set created = " DuckDB created it empty when dbt connected: delete it." if tables == 0 else "" -%}
      {{ exceptions.raise_compiler_error("The DuckDB file " ~ target.path ~ " (DBT_DUCKDB_PATH) holds no Phase 3 sources: " ~ missing | join(', ') ~ " not found. Point DBT_DUCKDB_PATH at the database that holds them (make data DB=<path> generates one). Nothing was built." ~ created) }}
    {%- else -%}
      {{ exceptions.raise_compiler_error("Phase 3 sources not found in project " ~ target.database ~ ": " ~ missing | join(', ') ~ " (vars source_database, analytics_dataset, raw_dataset; env BQ_PROJECT). Nothing was built.") }}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}


{% macro rerun_command(outputs, window) %}
  {#- The command that rebuilds the selected outputs together with everything they read, for this window. -#}
  {%- set names = [] -%}
  {%- for node in outputs -%}{%- do names.append('+' ~ node.name) -%}{%- endfor -%}
  {%- set vars_text = " --vars '{date: " ~ window.start ~ "}'" if window.mode == 'date'
      else (" --vars '{start_date: " ~ window.start ~ ", end_date: " ~ window.end ~ "}'" if window.mode == 'range' else '') -%}
  {{ return('dbt build --select ' ~ names | sort | join(' ') ~ vars_text) }}
{% endmacro %}


{% macro describe_window(mode, start, end) -%}
  {{- 'every date' if start is none and end is none else ((start or '(first)') ~ ' to ' ~ (end or '(latest)')) -}}
{%- endmacro %}


{% macro guard_full_refresh(outputs, window) %}
  {#- A full refresh rebuilds an output from the window only: with a date window it would drop every other date. -#}
  {%- if flags.FULL_REFRESH and window.start is not none and not typed_var('allow_full_refresh_of_window') -%}
    {%- for node in outputs -%}
      {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
      {%- if relation is not none -%}
        {%- set outside = run_query('select count(*) from ' ~ relation ~ ' where not (' ~ window_filter(node.config.window_column) ~ ')').columns[0].values()[0] -%}
        {%- if outside > 0 -%}
          {{ exceptions.raise_compiler_error("--full-refresh with a date window would replace " ~ node.name ~ " with the window's rows and drop its " ~ outside ~ " rows of other dates. Nothing was written. Re-run without --full-refresh (the merge rewrites the window), or without date vars to rebuild every date; pass --vars '{allow_full_refresh_of_window: true}' to replace the table on purpose.") }}
        {%- endif -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}


{% macro changed_sources(old_state, new_state) %}
  {#- The source tables whose row count or latest load differ between two sources_state strings. -#}
  {%- set old = {} -%}
  {%- for part in (old_state or '').split(';') if part -%}{%- do old.update({part.split(':')[0]: part}) -%}{%- endfor -%}
  {%- set changed = [] -%}
  {%- for part in (new_state or '').split(';') if part and old.get(part.split(':')[0]) != part -%}
    {%- do changed.append(part.split(':')[0]) -%}
  {%- endfor -%}
  {{ return(changed) }}
{% endmacro %}


{% macro guard_stale_inputs(outputs, ancestors, selected, window, state) %}
  {%- set inputs = [] -%}
  {%- for unique_id in ancestors if unique_id not in selected -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- if node.resource_type == 'model' and node.config.materialized in ('table', 'incremental') -%}
      {%- do inputs.append(node) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if inputs | length == 0 -%}{{ return('') }}{%- endif -%}
  {%- set stamps = build_stamps_relation() -%}
  {%- set by_node = {} -%}
  {%- if adapter.get_relation(database=stamps.database, schema=stamps.schema, identifier=stamps.identifier) is not none -%}
    {%- set ids = [] -%}
    {%- for node in inputs -%}{%- do ids.append("'" ~ node.unique_id ~ "'") -%}{%- endfor -%}
    {%- set rows = run_query('select node_id, window_mode, window_start, window_end, sources_state, cast(built_at as ' ~ dbt.type_string() ~ '), replaced from ' ~ stamps
        ~ ' where node_id in (' ~ ids | join(', ') ~ ') order by built_at desc').rows -%}
    {%- for row in rows -%}
      {%- do by_node.setdefault(row[0], []).append(row) -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set problems = [] -%}
  {%- for node in inputs -%}
    {%- set node_stamps = by_node.get(node.unique_id, []) -%}
    {#- The stamps since the table was last replaced (newest first): they describe its rows. -#}
    {%- set candidates = [] -%}
    {%- for row in node_stamps -%}
      {%- if loop.first or not candidates[-1][6] -%}{%- do candidates.append(row) -%}{%- endif -%}
    {%- endfor -%}
    {%- set ok = namespace(value=false) -%}
    {%- for row in candidates if row[4] == state and window_covers(row[2], row[3], window) -%}
      {%- set ok.value = true -%}
    {%- endfor -%}
    {%- if not ok.value -%}
      {%- if node_stamps | length == 0 -%}
        {%- do problems.append(node.name ~ " has no build stamp (never built by this project's current code)") -%}
      {%- else -%}
        {%- set latest = node_stamps[0] -%}
        {%- set changed = changed_sources(latest[4], state) -%}
        {%- set why = "holds the window " ~ describe_window(latest[1], latest[2], latest[3]) ~ " (built " ~ latest[5][:19] ~ ")" -%}
        {%- if not window_covers(latest[2], latest[3], window) -%}
          {%- set why = why ~ ", which does not cover this run's window" -%}
        {%- endif -%}
        {%- if changed -%}
          {%- set why = why ~ ", and " ~ changed | join(', ') ~ " changed since it was built" -%}
        {%- endif -%}
        {%- do problems.append(node.name ~ " " ~ why) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error("Stale inputs: this run (window " ~ describe_window(window.mode, window.start, window.end) ~ ") would read tables it does not rebuild:\n  - "
        ~ problems | join("\n  - ") ~ "\nNothing was written. Run: " ~ rerun_command(outputs, window)) }}
  {%- endif -%}
{% endmacro %}
