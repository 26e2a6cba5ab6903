{#-
  Build stamps: which run window, and which content of the sources, each persisted model's current
  rows were built from. A window-dependent table (every int_* table, every output table) is only
  correct for the window and the source rows it was built from; a later invocation that reads it
  without rebuilding it (a selection without `+`) checks its stamp first (guard_stale_inputs), so it
  never merges, or deletes, from inputs prepared for another window or from other source rows.

  A stamp is not trusted: it vouches for a table only when it describes the table's rows as they are
  now (row count and content fingerprint, recomputed by the guard) and its seal (an md5 over the
  stamp's own fields) verifies. A row written or edited by hand (another window, another sources
  state) fails the seal; a table changed after its build no longer matches its stamp. Forging a stamp
  therefore takes re-implementing this macro on purpose, no less than writing the table itself.

  Table <staging schema>.build_stamps, one row per model build (and one '__run__' row per invocation
  that carries the run's window and sources state). It is only ever appended to (no DELETE: the local
  BigQuery emulator has none, and the history is small and useful). A damaged table (a column
  dropped, renamed or added, or a table of an older version of this project) is recreated by the
  next invocation that builds a persisted model:
    node_id            dbt unique_id of the model ('__run__' for the invocation row)
    window_mode        date / range / all / catch_up
    window_start       first date of the window, YYYY-MM-DD (NULL: unbounded)
    window_end         last date of the window, YYYY-MM-DD (NULL: unbounded)
    sources_state      per source table: row count and content fingerprint of every row (every column,
                       processed_at included), at the start of the invocation
    table_rows         rows of the model's table right after the build
    table_fingerprint  content fingerprint of those rows (every column)
    seal               md5 of node_id, window, sources_state, table_rows and table_fingerprint
    invocation_id      dbt's invocation id
    built_at           when the row was written (UTC)
-#}

{% macro build_stamps_relation() %}
  {{ return(api.Relation.create(database=target.database, schema=generate_schema_name('nba_staging', none) | trim, identifier='build_stamps')) }}
{% endmacro %}


{% macro build_stamp_columns() %}
  {#- The stamp table's columns and types, in order: the one declaration that creation, inserts and the damage check read. -#}
  {{ return({'node_id': dbt.type_string(), 'window_mode': dbt.type_string(), 'window_start': dbt.type_string(), 'window_end': dbt.type_string(),
      'sources_state': dbt.type_string(), 'table_rows': dbt.type_bigint(), 'table_fingerprint': dbt.type_string(), 'seal': dbt.type_string(),
      'invocation_id': dbt.type_string(), 'built_at': dbt.type_timestamp()}) }}
{% endmacro %}


{% macro content_fingerprint_sql(relation, label) %}
  {#-
    One row: label, row_count and the order-independent fingerprint of every row of the relation
    (every column; '-' when empty). Each value is hashed as its text, not by the portable kinds of
    data_hash: a stamp is only compared on its own engine, and text is exact and never fails (a NaN
    or infinite source float, which the gates report by name, must not break the guard first).
  -#}
  {%- set kinds = {} -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do kinds.update({column.name | lower: 'string_array' if hash_kind(column).endswith('_array') else 'string'}) -%}
  {%- endfor -%}
  {{ return("select '" ~ label ~ "' as label, count(*) as row_count, coalesce(" ~ fingerprint_agg(row_hash(kinds)) ~ ", '-') as fingerprint from " ~ relation) }}
{% endmacro %}


{% macro sources_state_sql() %}
  {#- One row, one column: every project source's row count and content fingerprint, as text; an added, removed, re-processed or edited row changes it. Derived from the graph's sources. -#}
  {%- set parts = [] -%}
  {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
    {%- set relation = api.Relation.create(database=source.database, schema=source.schema, identifier=source.identifier) -%}
    {%- do parts.append(content_fingerprint_sql(relation, source.source_name ~ '.' ~ source.name)) -%}
  {%- endfor -%}
  select string_agg(concat(label, ':', cast(row_count as {{ dbt.type_string() }}), ':', fingerprint), ';' order by label) as sources_state
  from (
    {{ parts | join('\n    union all\n    ') }}
  ) as per_source
{% endmacro %}


{% macro stamp_seal(prefix='') %}
  {#- The seal of a stamp row: md5 of its node, window, sources state and table content (columns read with the optional prefix). -#}
  {%- set parts = [] -%}
  {%- for name in ('node_id', 'window_mode', 'window_start', 'window_end', 'sources_state', 'table_rows', 'table_fingerprint') -%}
    {%- do parts.append(hash_part(prefix ~ name, 'int' if name == 'table_rows' else 'string')) -%}
  {%- endfor -%}
  {{ return(dbt.hash(join_hash_parts(parts))) }}
{% endmacro %}


{% macro build_stamps_damage(relation) %}
  {#- '' when the stamp table has exactly the declared columns, else what is wrong with it. -#}
  {%- set found = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
  {%- set expected = build_stamp_columns().keys() | list -%}
  {%- set missing = expected | reject('in', found) | list -%}
  {%- set unexpected = found | reject('in', expected) | list -%}
  {%- if not missing and not unexpected -%}{{ return('') }}{%- endif -%}
  {{ return('missing columns: ' ~ (missing | join(', ') or 'none') ~ '; unexpected columns: ' ~ (unexpected | join(', ') or 'none')) }}
{% endmacro %}


{% macro ensure_build_stamps() %}
  {#- Creates the stamp table when it does not exist, and recreates it (saying so) when it is damaged. -#}
  {%- set stamps = build_stamps_relation() -%}
  {%- set existing = adapter.get_relation(database=stamps.database, schema=stamps.schema, identifier=stamps.identifier) -%}
  {%- if existing is not none -%}
    {%- set damage = build_stamps_damage(existing) -%}
    {%- if damage -%}
      {%- do adapter.drop_relation(existing) -%}
      {%- do log("build_stamps: the stamp table " ~ stamps ~ " was damaged or written by an older version of this project (" ~ damage ~ "): recreated it empty. This build stamps what it builds; a selection without `+` needs a `+` build of its window first.", info=true) -%}
    {%- endif -%}
  {%- endif -%}
  {%- do adapter.create_schema(stamps) -%}
  {%- set columns = [] -%}
  {%- for name, type in build_stamp_columns().items() -%}{%- do columns.append(name ~ ' ' ~ type) -%}{%- endfor -%}
  {%- do run_query('create table if not exists ' ~ stamps ~ ' (' ~ columns | join(', ') ~ ')') -%}
{% endmacro %}


{% macro sql_text(value) -%}
  {{- "'" ~ escape_single_quotes(value) ~ "'" if value is not none else 'cast(null as ' ~ dbt.type_string() ~ ')' -}}
{%- endmacro %}


{% macro stamp_invocation(window, sources_state) %}
  {#- The invocation's own row: the window and the sources state every model of this run is stamped with. -#}
  {%- do ensure_build_stamps() -%}
  {%- do run_query('insert into ' ~ build_stamps_relation() ~ ' (' ~ build_stamp_columns().keys() | join(', ') ~ ') values ('
      ~ ["'__run__'", sql_text(window.mode), sql_text(window.start), sql_text(window.end), sql_text(sources_state),
         'null', 'null', 'null', sql_text(invocation_id), 'current_timestamp'] | join(', ') ~ ')') -%}
{% endmacro %}


{% macro record_build_window() %}
  {#-
    Post-hook of every persisted model (dbt_project.yml): stamps this build with the invocation's
    window and sources state, and with the row count and content fingerprint of the table as the
    build left it, sealed. Renders no SQL.
  -#}
  {%- if execute and model.config.get('materialized') in ('table', 'incremental') -%}
    {%- set stamps = build_stamps_relation() -%}
    {%- set columns = build_stamp_columns().keys() | list -%}
    {%- set outer = [] -%}
    {%- for name in columns -%}{%- do outer.append(stamp_seal() ~ ' as seal' if name == 'seal' else name) -%}{%- endfor -%}
    {%- do run_query('insert into ' ~ stamps ~ ' (' ~ columns | join(', ') ~ ') select ' ~ outer | join(', ') ~ ' from ('
        ~ "select '" ~ model.unique_id ~ "' as node_id, run.window_mode, run.window_start, run.window_end, run.sources_state,"
        ~ ' content.row_count as table_rows, content.fingerprint as table_fingerprint, run.invocation_id, current_timestamp as built_at'
        ~ ' from ' ~ stamps ~ ' as run cross join (' ~ content_fingerprint_sql(this, model.unique_id) ~ ') as content'
        ~ " where run.node_id = '__run__' and run.invocation_id = '" ~ invocation_id ~ "') as stamp") -%}
  {%- endif -%}
{% endmacro %}


{% macro window_covers(stamp_start, stamp_end, window) %}
  {#- True when a build for [stamp_start, stamp_end] (none = unbounded) holds every date of the window. -#}
  {%- set start_ok = stamp_start is none or (window.start is not none and stamp_start <= window.start) -%}
  {%- set end_ok = stamp_end is none or (window.end is not none and stamp_end >= window.end) -%}
  {{ return(start_ok and end_ok) }}
{% endmacro %}
