{#-
  Hash-based skipping and stale-row removal (docs/decisions.md#hash-skipping, #no-stale-rows), in one
  MERGE that both engines run. dbt's merge strategy is kept (incremental_strategy='merge',
  unique_key); a model that sets `hash_merge: true` (and its `window_column`) gets this statement:

    merge into <target> using <source: every row the model computed for the run window,
                               plus its data_hash (derived: macro row_hash.sql)>
      on <unique key> and <target window_column inside the run window>
    when matched and target.data_hash is distinct from source.data_hash
      then update (every column but created_at; written_at_column set to now)
    when not matched by target then insert
    when not matched by source and <target window_column inside the run window> then delete

  So an unchanged row is never rewritten (its processed_at / updated_at stay), a changed or new
  row is written, and a row of the window whose entity no longer qualifies is deleted. The source
  is restricted to the run window too, so the window predicate in ON (which prunes the target scan,
  BigQuery partitions) is exactly the source's row filter: no source row can miss its target row
  (no duplicates), whatever rows a model returns. The source is deduplicated at
  the grain by the models and every model has a uniqueness test on its key.

  data_hash covers every column the model returns but the bookkeeping ones (var
  hash_bookkeeping_columns): the merge derives it here from the model's columns; when the table is
  created (first build, full refresh) create_table_as derives it the same way (row_hash.sql).

  Model config:
    hash_merge           true switches this merge on (dbt's stock merge otherwise)
    window_column        the model's date column (analysis_date, cache_date, game_date)
    written_at_column    processed_at (default) or updated_at
    written_at_on_insert true (default) keeps the source value on insert; false inserts NULL
                         (ml_feature_store_v2: updated_at is NULL until the row first changes)
-#}

{% macro hash_merge_sql(target, source, unique_key, dest_columns) -%}
  {%- set window_column = config.get('window_column') -%}
  {%- if not window_column -%}
    {{ exceptions.raise_compiler_error("Model " ~ this ~ " sets hash_merge but no window_column: the merge replaces the rows of the run window, so it needs the model's date column.") }}
  {%- endif -%}
  {%- set written_at = config.get('written_at_column', 'processed_at') -%}
  {%- set written_on_insert = config.get('written_at_on_insert', true) -%}
  {%- set keys = [unique_key] if unique_key is string else unique_key -%}
  {#- dest_columns are the model's columns (the temp relation; with on_schema_change 'ignore' the target's). -#}
  {%- set hashed = hashed_columns(dest_columns, 'data_hash') -%}
  {%- set names = dest_columns | map(attribute='name') | map('lower') | reject('equalto', 'data_hash') | list + ['data_hash'] -%}
  {%- set window_predicate = window_filter('dbt_internal_dest.' ~ window_column) -%}
  {%- do guard_deletions(target, source, keys, window_column) -%}
  merge into {{ target }} as dbt_internal_dest
  using (
    select dbt_internal_rows.*, {{ row_hash(hashed, 'dbt_internal_rows.') }} as data_hash
    from {{ source }} as dbt_internal_rows
    where {{ window_filter('dbt_internal_rows.' ~ window_column) }}
  ) as dbt_internal_source
  on (
    {%- for key in keys %}
    dbt_internal_source.{{ key }} = dbt_internal_dest.{{ key }} and
    {%- endfor %}
    {{ window_predicate }}
  )
  when matched and dbt_internal_dest.data_hash is distinct from dbt_internal_source.data_hash then update set
    {%- for name in names if name != 'created_at' %}
    {{ adapter.quote(name) }} = dbt_internal_source.{{ adapter.quote(name) }}{{ ',' if not loop.last }}
    {%- endfor %}
  when not matched by target then insert ({{ names | join(', ') }})
  values (
    {%- for name in names %}
    {{ 'null' if (name == written_at and not written_on_insert) else 'dbt_internal_source.' ~ adapter.quote(name) }}{{ ',' if not loop.last }}
    {%- endfor %}
  )
  when not matched by source and {{ window_predicate }} then delete
{%- endmacro %}


{% macro deletion_count_sql(target, source, keys, window_column) %}
  {#- The window's target rows (existing_rows) and those whose key the model no longer produces (deleted_rows). -#}
    select
      count(*) as existing_rows,
      coalesce(sum(case when dbt_internal_source.{{ keys[0] }} is null then 1 else 0 end), 0) as deleted_rows
    from {{ target }} as dbt_internal_dest
    left join (
      select * from {{ source }} as dbt_internal_rows where {{ window_filter('dbt_internal_rows.' ~ window_column) }}
    ) as dbt_internal_source
      on {% for key in keys %}dbt_internal_source.{{ key }} = dbt_internal_dest.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    where {{ window_filter('dbt_internal_dest.' ~ window_column) }}
{% endmacro %}


{% macro guard_deletions(target, source, keys, window_column) %}
  {#-
    Before the merge: counts the target rows of the window that the merge would delete (their key is
    not among the rows the model recomputed for the window), logs `rows deleted: <table> = N`, and
    stops before writing when that is more than max_delete_share of the window's existing rows,
    unless allow_mass_delete is true. The count is kept for log_rows_written.
  -#}
  {#- Only when the merge runs: `dbt compile` renders it offline (the BigQuery check) without a connection. -#}
  {%- if not execute or flags.WHICH not in ('run', 'build', 'retry') -%}{{ return('') }}{%- endif -%}
  {%- set row = run_query(deletion_count_sql(target, source, keys, window_column)).rows[0] -%}
  {%- set existing, deleted = row[0] | int, row[1] | int -%}
  {%- set share = (deleted / existing) if existing > 0 else 0 -%}
  {%- if share > typed_var('max_delete_share') | float -%}
    {%- if not typed_var('allow_mass_delete') -%}
      {{ exceptions.raise_compiler_error("Merge into " ~ target ~ " stopped before writing: it would delete " ~ deleted ~ " of the window's " ~ existing ~ " rows (" ~ (100 * share) | round(1) ~ "% > max_delete_share " ~ (100 * typed_var('max_delete_share') | float) | round(1) ~ "%): the model no longer produces them. If that is expected (games removed from the schedule, a corrected roster), re-run with --vars '{allow_mass_delete: true}' added.") }}
    {%- endif -%}
    {%- do log("allow_mass_delete: deleting " ~ deleted ~ " of " ~ existing ~ " rows of the window in " ~ target, info=true) -%}
  {%- endif -%}
  {#- Kept on the node for the post-hooks: log_rows_written logs it, record_build_window sees a merge. -#}
  {%- do model.update({'rows_deleted': deleted, 'merged': true}) -%}
{% endmacro %}


{#- DuckDB: dbt-duckdb resolves the merge strategy through get_incremental_merge_sql. -#}
{% macro duckdb__get_incremental_merge_sql(arg_dict) -%}
  {%- if config.get('hash_merge') -%}
    {{ hash_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'], arg_dict['dest_columns']) }}
  {%- else -%}
    {{ dbt_duckdb_get_incremental_merge_sql(arg_dict) }}
  {%- endif -%}
{%- endmacro %}

{% macro dbt_duckdb_get_incremental_merge_sql(arg_dict) -%}
  {%- set build_sql = duckdb__get_merge_sql(arg_dict['target_relation'], arg_dict['temp_relation'], arg_dict['unique_key'], arg_dict['dest_columns'], arg_dict.get('incremental_predicates')) -%}
  {{ return(build_sql) }}
{%- endmacro %}


{#- BigQuery: dbt-bigquery builds its merge through get_merge_sql. -#}
{% macro bigquery__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates=none) -%}
  {%- if config.get('hash_merge') -%}
    {{ hash_merge_sql(target, source, unique_key, dest_columns) }}
  {%- else -%}
    {{ default__get_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) }}
  {%- endif -%}
{%- endmacro %}


{% macro write_timestamps() -%}
  {#- created_at and processed_at of a row written now; the merge keeps created_at of existing rows. -#}
  {{ utc_now() }} as created_at,
  {{ utc_now() }} as processed_at
{%- endmacro %}
