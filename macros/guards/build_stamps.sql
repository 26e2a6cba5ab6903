{#-
  Build stamps: which run window, and which state of the sources, each persisted model was last
  built from. A window-dependent table (every int_* table, every output table) is only correct for
  the window and the source rows it was built from; a later invocation that reads it without
  rebuilding it (a selection without `+`) checks its stamp first (guard_selection), so it never
  merges, or deletes, from inputs prepared for another window.

  Table <staging schema>.build_stamps, one row per model build (and one '__run__' row per invocation
  that carries the sources state). It is only ever appended to (no DELETE: the local BigQuery
  emulator has none, and the history is small and useful):
    node_id        dbt unique_id of the model ('__run__' for the invocation row)
    replaced       true when the build replaced the whole table (a table model, a first build or a
                   full refresh): older stamps of the node no longer describe its rows
    window_mode    date / range / all / catch_up
    window_start   first date of the window, YYYY-MM-DD (NULL: unbounded)
    window_end     last date of the window, YYYY-MM-DD (NULL: unbounded)
    sources_state  rows, latest processed_at and the sum of processed_at of every source table at the
                   start of the invocation (an upstream re-run rewrites processed_at)
    invocation_id  dbt's invocation id
    built_at       when the row was written (UTC)
-#}

{% macro build_stamps_relation() %}
  {{ return(api.Relation.create(database=target.database, schema=generate_schema_name('nba_staging', none) | trim, identifier='build_stamps')) }}
{% endmacro %}


{% macro sources_state_sql() %}
  {#- One row, one column: every project source's row count, latest loaded_at and sum of load times (seconds), as text: a re-processed row changes it. Derived from the graph's sources. -#}
  {%- set parts = [] -%}
  {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
    {%- set loaded_at = source.loaded_at_field or 'processed_at' -%}
    {%- do parts.append("select '" ~ source.source_name ~ "." ~ source.name ~ "' as source_table, count(*) as row_count, cast(max(" ~ loaded_at ~ ") as " ~ dbt.type_string() ~ ") as latest, coalesce(sum(cast(" ~ epoch_micros(loaded_at) ~ " / 1000000 as " ~ dbt.type_bigint() ~ ")), 0) as load_seconds from " ~ source.relation_name) -%}
  {%- endfor -%}
  select string_agg(concat(source_table, ':', cast(row_count as {{ dbt.type_string() }}), ':', coalesce(latest, '-'), ':', cast(load_seconds as {{ dbt.type_string() }})), ';' order by source_table) as sources_state
  from (
    {{ parts | join('\n    union all\n    ') }}
  ) as per_source
{% endmacro %}


{% macro ensure_build_stamps() %}
  {%- set stamps = build_stamps_relation() -%}
  {%- do adapter.create_schema(stamps) -%}
  {%- do run_query('create table if not exists ' ~ stamps ~ ' (node_id ' ~ dbt.type_string() ~ ', replaced ' ~ dbt.type_boolean() ~ ', window_mode ' ~ dbt.type_string()
      ~ ', window_start ' ~ dbt.type_string() ~ ', window_end ' ~ dbt.type_string() ~ ', sources_state ' ~ dbt.type_string()
      ~ ', invocation_id ' ~ dbt.type_string() ~ ', built_at ' ~ dbt.type_timestamp() ~ ')') -%}
{% endmacro %}


{% macro sql_text(value) -%}
  {{- "'" ~ escape_single_quotes(value) ~ "'" if value is not none else 'cast(null as ' ~ dbt.type_string() ~ ')' -}}
{%- endmacro %}


{% macro stamp_invocation(window, sources_state) %}
  {#- The invocation's own row: the window and the sources state every model of this run is stamped with. -#}
  {%- do ensure_build_stamps() -%}
  {%- do run_query('insert into ' ~ build_stamps_relation() ~ ' values (' ~ ["'__run__'", 'true', sql_text(window.mode), sql_text(window.start), sql_text(window.end), sql_text(sources_state), sql_text(invocation_id), 'current_timestamp'] | join(', ') ~ ')') -%}
{% endmacro %}


{% macro record_build_window() %}
  {#-
    Post-hook of every persisted model (dbt_project.yml): stamps this build with the invocation's
    window and sources state. A table build replaces the table (replaced = true); an incremental
    build merges one window into it, unless it is the first build or a full refresh. Renders no SQL.
  -#}
  {%- if execute and model.config.get('materialized') in ('table', 'incremental') -%}
    {%- set stamps = build_stamps_relation() -%}
    {#- In a post-hook is_incremental() is true once the table exists; pre-existence is what counts. -#}
    {%- set replaced = model.config.get('materialized') == 'table' or flags.FULL_REFRESH or not model.get('merged', false) -%}
    {%- do run_query('insert into ' ~ stamps ~ " select '" ~ model.unique_id ~ "', " ~ ('true' if replaced else 'false') ~ ", window_mode, window_start, window_end, sources_state, invocation_id, current_timestamp from "
        ~ stamps ~ " where node_id = '__run__' and invocation_id = '" ~ invocation_id ~ "'") -%}
  {%- endif -%}
{% endmacro %}


{% macro window_covers(stamp_start, stamp_end, window) %}
  {#- True when a build for [stamp_start, stamp_end] (none = unbounded) holds every date of the window. -#}
  {%- set start_ok = stamp_start is none or (window.start is not none and stamp_start <= window.start) -%}
  {%- set end_ok = stamp_end is none or (window.end is not none and stamp_end >= window.end) -%}
  {{ return(start_ok and end_ok) }}
{% endmacro %}
