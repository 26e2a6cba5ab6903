{#-
  on-run-start guard: whatever a command selects, it never writes an output table from the wrong
  inputs, and it always runs the checks that guard the outputs it writes. Checked before any model
  runs, so a refusal writes nothing:

  1. sources exist (a mistyped DBT_DUCKDB_PATH is named, not built into an empty file);
  2. a --full-refresh with a date window never replaces an output that holds other dates;
  3. the gate tests (tag `gate`: staging input rules, schedule checks, completeness) that guard the
     selected outputs run here when the selection does not include them;
  4. source freshness as of the run (freshness_as_of), with the sources' own thresholds;
  5. every persisted input the selection reads without rebuilding it carries a build stamp that
     describes its rows as they are now (recomputed row count and content fingerprint, verified seal),
     for a window that covers this one, built from the sources' content as it is now; otherwise
     (forged, stale, missing or damaged stamps) the run stops, naming the input, the window it holds
     and the `+` command to run.
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
  {{ return('dbt build --select ' ~ names | unique | sort | join(' ') ~ vars_text) }}
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
  {#- The source tables whose row count or content fingerprint differ between two sources_state strings. -#}
  {%- set old = {} -%}
  {%- for part in (old_state or '').split(';') if part -%}{%- do old.update({part.split(':')[0]: part}) -%}{%- endfor -%}
  {%- set changed = [] -%}
  {%- for part in (new_state or '').split(';') if part and old.get(part.split(':')[0]) != part -%}
    {%- do changed.append(part.split(':')[0]) -%}
  {%- endfor -%}
  {{ return(changed) }}
{% endmacro %}


{% macro guard_stale_inputs(outputs, ancestors, selected, window, state) %}
  {#-
    Every persisted input the selection reads without rebuilding it must carry a stamp that describes
    its rows as they are now (row count and content fingerprint, recomputed here), whose seal verifies,
    whose window covers this run's and whose sources state is the state now. Anything else stops the
    run before any model, naming the input and the `+` command (which rebuilds the inputs and, when the
    stamp table is damaged or missing, recreates it).
  -#}
  {#-
    The inputs checked are the prepared tables (materialized table: int_* and the Python models'
    __inputs), which hold one run window. Incremental outputs read without rebuilding them (the store
    read by feature_health, slate_coverage, ml_training_examples) are history: they are read as they
    are, since a consumer describes the store it finds, and a table prepared from them is checked.
  -#}
  {%- set inputs = [] -%}
  {%- for unique_id in ancestors if unique_id not in selected -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- if node.resource_type == 'model' and node.config.materialized == 'table' -%}
      {%- do inputs.append(node) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if inputs | length == 0 -%}{{ return('') }}{%- endif -%}
  {%- set header = "Stale inputs: this run (window " ~ describe_window(window.mode, window.start, window.end) ~ ") would read tables it does not rebuild" -%}
  {%- set footer = "\nNothing was written. Run: " ~ rerun_command(outputs, window) -%}
  {%- set stamps = build_stamps_relation() -%}
  {%- set existing = adapter.get_relation(database=stamps.database, schema=stamps.schema, identifier=stamps.identifier) -%}
  {%- if existing is none -%}
    {{ exceptions.raise_compiler_error(header ~ ", and the stamp table " ~ stamps ~ " that records what they were built from does not exist (dropped, or never created in this database): nothing shows which window and which source rows "
        ~ inputs | map(attribute='name') | sort | join(', ') ~ " hold." ~ footer ~ " (it recreates the stamp table)") }}
  {%- endif -%}
  {%- set damage = build_stamps_damage(existing) -%}
  {%- if damage -%}
    {{ exceptions.raise_compiler_error(header ~ ", and the stamp table " ~ stamps ~ " that records what they were built from is damaged or written by an older version of this project (" ~ damage ~ "): their stamps cannot be read." ~ footer ~ " (it recreates the stamp table)") }}
  {%- endif -%}
  {#- The inputs' rows now: one query fingerprints them all and checks every stamp of them against them. -#}
  {%- set problems = [] -%}
  {%- set parts = [] -%}
  {%- for node in inputs -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if relation is none -%}
      {%- do problems.append(node.name ~ " does not exist (never built in this database)") -%}
    {%- else -%}
      {%- do parts.append(content_fingerprint_sql(relation, node.unique_id)) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set by_node = {} -%}
  {%- set rows_now = {} -%}
  {%- if parts -%}
    {%- set rows = run_query('select content.label, content.row_count, stamp.window_mode, stamp.window_start, stamp.window_end, stamp.sources_state, cast(stamp.built_at as ' ~ dbt.type_string() ~ ')'
        ~ ', stamp.table_rows = content.row_count and stamp.table_fingerprint = content.fingerprint as describes_rows, stamp.seal = ' ~ stamp_seal('stamp.') ~ ' as sealed, stamp.table_rows'
        ~ ' from (' ~ parts | join(' union all ') ~ ') as content left join ' ~ stamps ~ ' as stamp on stamp.node_id = content.label'
        ~ ' order by stamp.built_at desc').rows -%}
    {%- for row in rows -%}
      {%- do rows_now.update({row[0]: row[1]}) -%}
      {%- if row[6] is not none -%}{%- do by_node.setdefault(row[0], []).append(row) -%}{%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- for node in inputs if node.unique_id in rows_now -%}
    {%- set node_stamps = by_node.get(node.unique_id, []) -%}
    {%- set verified = node_stamps | selectattr(7) | selectattr(8) | list -%}
    {%- set covering = [] -%}
    {%- for row in verified if window_covers(row[3], row[4], window) -%}{%- do covering.append(row) -%}{%- endfor -%}
    {%- set current = covering | selectattr(5, 'equalto', state) | list -%}
    {#- Stamps that name its current rows but fail their seal: edited or written by hand. -#}
    {%- set unsealed = node_stamps | selectattr(7) | rejectattr(8) | list -%}
    {%- set ignored = ("; " ~ unsealed | length ~ " stamp(s) naming its current rows fail their seal (edited or written by hand) and were ignored") if unsealed else "" -%}
    {%- if current -%}
      {#- vouched for -#}
    {%- elif not node_stamps -%}
      {%- do problems.append(node.name ~ " has no build stamp in " ~ stamps ~ " (its stamps were removed, or the stamp table was recreated after it was built)") -%}
    {%- elif not verified -%}
      {%- if unsealed -%}
        {%- do problems.append(node.name ~ ": every stamp naming its current " ~ rows_now[node.unique_id] ~ " rows fails its seal (edited or written by hand), so nothing shows which window and source rows they come from") -%}
      {%- else -%}
        {%- do problems.append(node.name ~ " holds " ~ rows_now[node.unique_id] ~ " rows that no build stamp describes (" ~ node_stamps[0][9] ~ " rows at its latest stamp, " ~ node_stamps[0][6][:19] ~ "): the table was changed after its build, or the stamp was written by hand") -%}
      {%- endif -%}
    {%- else -%}
      {%- set latest = (covering or verified)[0] -%}
      {%- set changed = changed_sources(latest[5], state) -%}
      {%- set why = "holds the window " ~ describe_window(latest[2], latest[3], latest[4]) ~ " (built " ~ latest[6][:19] ~ ")" -%}
      {%- if not covering -%}
        {%- set why = why ~ ", which does not cover this run's window" -%}
      {%- endif -%}
      {%- if changed -%}
        {%- set why = why ~ ", and " ~ changed | join(', ') ~ " changed since it was built" -%}
      {%- endif -%}
      {%- do problems.append(node.name ~ " " ~ why ~ ignored) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error(header ~ ":\n  - " ~ problems | join("\n  - ") ~ footer) }}
  {%- endif -%}
{% endmacro %}
