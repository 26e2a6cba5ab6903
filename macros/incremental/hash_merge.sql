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
  {#- Run dates a failing warn gate holds: the merge keeps their rows as they are (docs/guards.md). -#}
  {%- set kept = kept_dates(window_column) -%}
  {%- set window_predicate = merge_window_filter('dbt_internal_dest.' ~ window_column, kept) -%}
  {%- set source_rows -%}
    select dbt_internal_rows.*, {{ row_hash(hashed, 'dbt_internal_rows.') }} as data_hash
    from {{ source }} as dbt_internal_rows
    where {{ merge_window_filter('dbt_internal_rows.' ~ window_column, kept) }}
  {%- endset -%}
  {%- do guard_column_rules(source_rows) -%}
  {%- do guard_deletions(target, source, keys, window_column, kept) -%}
  merge into {{ target }} as dbt_internal_dest
  using (
    {{ source_rows }}
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


{% macro merge_writes() %}
  {#- True when the merge really runs: `dbt compile` renders it offline (the BigQuery check) without a connection. -#}
  {{ return(execute and flags.WHICH in ('run', 'build', 'retry')) }}
{% endmacro %}


{% macro merge_window_filter(column, kept=[]) %}
  {#- The run window's predicate on `column`, without the kept dates (a failing warn gate holds them). -#}
  {%- set literals = [] -%}
  {%- for kept_date in kept -%}{%- do literals.append(date_literal(kept_date)) -%}{%- endfor -%}
  {{- window_filter(column) ~ (' and ' ~ column ~ ' not in (' ~ literals | join(', ') ~ ')' if literals else '') -}}
{% endmacro %}


{% macro kept_dates(window_column) %}
  {#- The run dates this merge leaves as they are (held_run_dates), each logged with its gate. -#}
  {%- if not merge_writes() -%}{{ return([]) }}{%- endif -%}
  {%- set held = held_run_dates(model) -%}
  {%- for run_date, gates in held.items() | sort -%}
    {%- do log("kept the existing rows of " ~ run_date ~ " in " ~ this.identifier ~ " (nothing merged for that date): gate " ~ gates | join(', ') ~ " failed for " ~ run_date ~ " (severity warn). Re-run the date once its sources are complete, or add allow_delete_dates: [" ~ run_date ~ "] to --vars to write it as it is.", info=true) -%}
  {%- endfor -%}
  {{ return(held.keys() | list | sort) }}
{% endmacro %}


{% macro guard_column_rules(source_rows) %}
  {#-
    Before the merge: the model's own column rules (its column_rules data test in the model YAML,
    rendered through the same test macro) on the rows about to be merged. A rule broken with
    severity error stops before writing, naming the rows and the rule; with warn it is logged. The
    data test still runs after the model in `dbt build` (same rule, the stored rows).
  -#}
  {%- if not merge_writes() -%}{{ return('') }}{%- endif -%}
  {%- for test_node in graph.nodes.values() | sort(attribute='unique_id')
      if test_node.resource_type == 'test' and test_node.attached_node == model.unique_id
      and (test_node.test_metadata or {}).name == 'column_rules' and test_node.config.enabled -%}
    {#- A rule may read another relation (a seed: the feature names of feature_versions); `dbt run` loads no seed. -#}
    {%- for other_id in test_node.depends_on.nodes if other_id != model.unique_id and other_id in graph.nodes -%}
      {%- set other = graph.nodes[other_id] -%}
      {%- if adapter.get_relation(database=other.database, schema=other.schema, identifier=other.alias) is none -%}
        {{ exceptions.raise_compiler_error("Merge into " ~ this ~ " stopped before writing: its rule " ~ test_node.name ~ " reads the " ~ other.resource_type ~ " " ~ other.name ~ ", which this database does not hold. Load it first (dbt seed, or dbt build, which loads seeds), then re-run the same command. Nothing was written to " ~ this.identifier ~ ".") }}
      {%- endif -%}
    {%- endfor -%}
    {%- set sql = test_sql(test_node, '(' ~ source_rows ~ ')') -%}
    {%- set count = run_query('select count(*) from (' ~ sql ~ ') as failures').columns[0].values()[0] -%}
    {%- if count > 0 -%}
      {%- set text = count ~ " row(s) computed for the window break " ~ test_node.name ~ ", first rows:" ~ failing_rows_lines(sql, test_node) -%}
      {%- if test_node.config.severity | lower == 'error' -%}
        {{ exceptions.raise_compiler_error("Merge into " ~ this ~ " stopped before writing: " ~ text ~ "\nNothing was written to " ~ this.identifier ~ ". Fix the source rows behind them (or the model), then re-run the same command.") }}
      {%- endif -%}
      {%- do log("WARN before the merge into " ~ this.identifier ~ ": " ~ text, info=true) -%}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}


{% macro deletion_count_sql(target, source, keys, window_column, kept=[]) %}
  {#- Per date of the window: the target's rows (existing_rows) and those whose key the model no longer produces (deleted_rows). -#}
    select
      cast(dbt_internal_dest.{{ window_column }} as {{ dbt.type_string() }}) as window_date,
      count(*) as existing_rows,
      coalesce(sum(case when dbt_internal_source.{{ keys[0] }} is null then 1 else 0 end), 0) as deleted_rows
    from {{ target }} as dbt_internal_dest
    left join (
      select * from {{ source }} as dbt_internal_rows where {{ merge_window_filter('dbt_internal_rows.' ~ window_column, kept) }}
    ) as dbt_internal_source
      on {% for key in keys %}dbt_internal_source.{{ key }} = dbt_internal_dest.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    where {{ merge_window_filter('dbt_internal_dest.' ~ window_column, kept) }}
    group by 1
    order by 1
{% endmacro %}


{% macro scheduled_dates(dates) %}
  {#- Those of `dates` (YYYY-MM-DD) on which the staged schedule (latest scrape per game) still has games. -#}
  {%- if not dates -%}{{ return([]) }}{%- endif -%}
  {%- set literals = [] -%}
  {%- for one_date in dates -%}{%- do literals.append(date_literal(one_date)) -%}{%- endfor -%}
  {%- set schedule = resolve_ref_argument("ref('stg_nba_raw__schedule')") -%}
  {%- set rows = run_query('select distinct cast(game_date as ' ~ dbt.type_string() ~ ') from ' ~ schedule ~ ' where game_date in (' ~ literals | join(', ') ~ ')').rows -%}
  {%- set found = [] -%}
  {%- for row in rows -%}{%- do found.append(row[0] | string) -%}{%- endfor -%}
  {{ return(found) }}
{% endmacro %}


{% macro guard_deletions(target, source, keys, window_column, kept=[]) %}
  {#-
    Before the merge: counts, per date of the window, the target rows the merge would delete (their
    key is not among the rows the model recomputed), and stops before writing
    - when it would delete every row of a date that has rows, while the schedule still has games
      that date (the model's inputs for the date are missing), unless the operator names the date in
      allow_delete_dates; a date the schedule dropped deletes (the log says so);
    - when the deletions of the other dates exceed max_delete_share of their rows, unless
      allow_mass_delete is true.
    The count is kept for log_rows_written (`rows deleted: <table> = N`).
  -#}
  {%- if not merge_writes() -%}{{ return('') }}{%- endif -%}
  {%- set rows = run_query(deletion_count_sql(target, source, keys, window_column, kept)).rows -%}
  {%- set allowed = allow_delete_dates() -%}
  {%- set totals = namespace(existing=0, deleted=0, all_deleted=0) -%}
  {%- set emptied = {} -%}
  {%- for row in rows -%}
    {%- set day, existing, deleted = row[0] | string, row[1] | int, row[2] | int -%}
    {%- set totals.all_deleted = totals.all_deleted + deleted -%}
    {%- if day in allowed -%}
      {%- if deleted > 0 -%}
        {%- do log("allow_delete_dates: deleting " ~ deleted ~ " of " ~ existing ~ " rows of " ~ day ~ " in " ~ target, info=true) -%}
      {%- endif -%}
    {%- else -%}
      {%- if existing > 0 and deleted == existing -%}{%- do emptied.update({day: deleted}) -%}{%- endif -%}
      {%- set totals.existing = totals.existing + existing -%}
      {%- set totals.deleted = totals.deleted + deleted -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set still_scheduled = scheduled_dates(emptied.keys() | list | sort) -%}
  {%- if still_scheduled -%}
    {%- set named = [] -%}
    {%- for day in still_scheduled | sort -%}{%- do named.append(day ~ " (all " ~ emptied[day] ~ " rows)") -%}{%- endfor -%}
    {%- set window = run_window() -%}
    {%- set window_vars = 'date: ' ~ window.start if window.mode == 'date' else ('start_date: ' ~ window.start ~ ', end_date: ' ~ window.end if window.mode == 'range' else '') -%}
    {%- set severity = typed_var('completeness_severity') -%}
    {%- set extra = [window_vars] if window_vars else [] -%}
    {%- if severity != 'error' -%}{%- do extra.append('completeness_severity: ' ~ severity) -%}{%- endif -%}
    {%- do extra.append('allow_delete_dates: [' ~ still_scheduled | sort | join(', ') ~ ']') -%}
    {{ exceptions.raise_compiler_error("Merge into " ~ target ~ " stopped before writing: it would delete every row of " ~ named | join(', ') ~ ", yet the schedule still has games that date: the model produced no rows for it (are its inputs for that date missing upstream?). Nothing was written to " ~ target.identifier ~ ". If these rows must go, re-run the same command with --vars '{" ~ extra | join(', ') ~ "}'.") }}
  {%- endif -%}
  {%- for day in emptied.keys() | list | sort -%}
    {%- do log("deleting every row of " ~ day ~ " in " ~ target ~ " (" ~ emptied[day] ~ "): the schedule has no games that date any more", info=true) -%}
  {%- endfor -%}
  {%- set share = (totals.deleted / totals.existing) if totals.existing > 0 else 0 -%}
  {%- if share > typed_var('max_delete_share') | float -%}
    {%- if not typed_var('allow_mass_delete') -%}
      {{ exceptions.raise_compiler_error("Merge into " ~ target ~ " stopped before writing: it would delete " ~ totals.deleted ~ " of the window's " ~ totals.existing ~ " rows (" ~ (100 * share) | round(1) ~ "% > max_delete_share " ~ (100 * typed_var('max_delete_share') | float) | round(1) ~ "%): the model no longer produces them. If that is expected (games removed from the schedule, a corrected roster), re-run with --vars '{allow_mass_delete: true}' added.") }}
    {%- endif -%}
    {%- do log("allow_mass_delete: deleting " ~ totals.deleted ~ " of " ~ totals.existing ~ " rows of the window in " ~ target, info=true) -%}
  {%- endif -%}
  {#- Kept on the node for the post-hooks: log_rows_written logs it, record_build_window sees a merge. -#}
  {%- do model.update({'rows_deleted': totals.all_deleted, 'merged': true}) -%}
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
