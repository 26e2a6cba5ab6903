{#-
  The run window (docs/decisions.md#run-window): which dates a build covers.

  --vars '{date: 2021-11-20}'                         one date
  --vars '{start_date: 2021-11-01, end_date: ...}'    every date of the range, one set-based pass
  no vars, full refresh (or first build)              every date the sources hold
  no vars, incremental                                catch up: the dates after the latest date
                                                      that every selected output table already holds
                                                      (and the model itself, with catch_up_from_own_rows)
-#}

{% macro parse_window_date(name, value) %}
  {%- if value is none or (value | string | trim) == '' -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set text = value | string | trim -%}
  {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
    {{ exceptions.raise_compiler_error("Run window: var '" ~ name ~ "' is '" ~ text ~ "', expected a date as YYYY-MM-DD (e.g. --vars '{" ~ name ~ ": 2021-11-20}').") }}
  {%- endif -%}
  {%- if not is_calendar_date(text) -%}
    {{ exceptions.raise_compiler_error("Run window: var '" ~ name ~ "' is '" ~ text ~ "', which is not a calendar date; expected YYYY-MM-DD.") }}
  {%- endif -%}
  {{ return(text) }}
{% endmacro %}


{% macro is_calendar_date(text) %}
  {#- Whether 'YYYY-MM-DD' text names a real calendar date (no 2021-02-30); dates and timestamps of vars are checked with it. -#}
  {%- set parts = text.split('-') -%}
  {%- set y, m, d = parts[0] | int, parts[1] | int, parts[2] | int -%}
  {%- set days_in_month = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] -%}
  {{ return(m >= 1 and m <= 12 and d >= 1 and d <= days_in_month[m - 1]) }}
{% endmacro %}


{% macro run_window_vars() %}
  {#- Parses and validates the vars; returns {'mode', 'start', 'end'} with start/end as YYYY-MM-DD or none. -#}
  {%- set one_date = typed_var('date') -%}
  {%- set start_date = typed_var('start_date') -%}
  {%- set end_date = typed_var('end_date') -%}
  {%- if one_date and (start_date or end_date) -%}
    {{ exceptions.raise_compiler_error("Run window: pass either var 'date' or vars 'start_date'/'end_date', not both.") }}
  {%- endif -%}
  {%- if (start_date and not end_date) or (end_date and not start_date) -%}
    {{ exceptions.raise_compiler_error("Run window: vars 'start_date' and 'end_date' go together; got only " ~ ("'start_date'" if start_date else "'end_date'") ~ " (expected YYYY-MM-DD for both).") }}
  {%- endif -%}
  {%- if start_date and start_date > end_date -%}
    {{ exceptions.raise_compiler_error("Run window: var 'start_date' (" ~ start_date ~ ") is after var 'end_date' (" ~ end_date ~ "); expected start_date <= end_date, both YYYY-MM-DD.") }}
  {%- endif -%}
  {%- if one_date -%}
    {{ return({'mode': 'date', 'start': one_date, 'end': one_date}) }}
  {%- elif start_date -%}
    {{ return({'mode': 'range', 'start': start_date, 'end': end_date}) }}
  {%- else -%}
    {{ return({'mode': 'all', 'start': none, 'end': none}) }}
  {%- endif -%}
{% endmacro %}


{% macro precompute_relations() %}
  {#-
    (name, window_column, relation) of every output table this invocation writes: the selected
    incremental models with a window_column (derived from the graph, no list; a table the selection
    does not write cannot hold its catch-up back). A model that catches up from its own rows
    (catch_up_from_own_rows) does not hold the shared window back either. No ref: no DAG edge.
  -#}
  {%- set relations = [] -%}
  {%- set selected = selected_resources | list if selected_resources is defined and selected_resources else none -%}
  {%- for node in graph.nodes.values() | sort(attribute='name')
      if node.resource_type == 'model' and node.config.materialized == 'incremental'
      and node.config.get('window_column') and not node.config.get('catch_up_from_own_rows')
      and (selected is none or node.unique_id in selected) -%}
    {%- do relations.append((node.name, node.config.window_column, adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias))) -%}
  {%- endfor -%}
  {{ return(relations) }}
{% endmacro %}


{% macro run_window() %}
  {#- Returns {'mode', 'start', 'end'}; start/end are YYYY-MM-DD strings or none (unbounded). -#}
  {%- set window = run_window_vars() -%}
  {%- if window.mode != 'all' or not execute or flags.FULL_REFRESH or not graph.get('nodes') -%}
    {#- (unit tests render without the project graph: their window is unbounded) -#}
    {{ return(window) }}
  {%- endif -%}
  {#- Catch-up: the day after the latest date that every existing output table holds. -#}
  {%- set latest = catch_up_latest_dates() -%}
  {%- if latest is none -%}
    {{ return(window) }}
  {%- endif -%}
  {#- A model that sets `catch_up_from_own_rows` (ml_training_examples) runs after the five tables were
      caught up and only holds dates whose games are final: it catches up from its own latest date,
      so labels that arrived since its last build are written too. -#}
  {%- set node_config = (model.get('config') or {}) if model is defined and model is mapping else {} -%}
  {%- if node_config.get('catch_up_from_own_rows') and node_config.get('window_column') -%}
    {%- set own_latest = own_latest_date(node_config.get('window_column')) -%}
    {%- if own_latest is none -%}
      {{ return(window) }}
    {%- endif -%}
    {%- set latest = latest + [own_latest] -%}
  {%- endif -%}
  {%- set start = modules.datetime.date.fromisoformat(latest | min) + modules.datetime.timedelta(days=1) -%}
  {{ return({'mode': 'catch_up', 'start': start.isoformat(), 'end': none}) }}
{% endmacro %}


{% macro run_window_cache() %}
  {#-
    Catch-up dates are read once per invocation: every read is a query (a billed job on BigQuery) and
    the window must not move while the invocation writes its tables. The values are kept on `graph`,
    the one dict every node of an invocation shares (dbt has no other per-invocation state), under
    the invocation id, so a reused manifest never serves another invocation's dates.
  -#}
  {%- set caches = graph.setdefault('nba_precompute_run_window', {}) -%}
  {{ return(caches.setdefault(invocation_id, {'own': {}})) }}
{% endmacro %}


{% macro catch_up_latest_dates() %}
  {#- The latest date of every selected output table (read once per invocation), or none when one is missing or empty (then the window is unbounded). -#}
  {%- set cache = run_window_cache() -%}
  {%- if 'shared' not in cache -%}
    {%- set latest = [] -%}
    {%- for name, window_column, relation in precompute_relations() -%}
      {%- set value = none if relation is none else run_query('select cast(max(' ~ window_column ~ ') as ' ~ dbt.type_string() ~ ') from ' ~ relation).columns[0].values()[0] -%}
      {%- if value is none -%}
        {%- do cache.update({'shared': none}) -%}
        {{ return(none) }}
      {%- endif -%}
      {%- do latest.append(value | string) -%}
    {%- endfor -%}
    {%- do cache.update({'shared': latest if latest else none}) -%}
  {%- endif -%}
  {{ return(cache['shared']) }}
{% endmacro %}


{% macro own_latest_date(window_column) %}
  {#- The latest date the current model's own table holds (read once per invocation and model), or none. -#}
  {%- set cache = run_window_cache()['own'] -%}
  {%- if this.render() not in cache -%}
    {%- set own = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set value = none if own is none else run_query('select cast(max(' ~ window_column ~ ') as ' ~ dbt.type_string() ~ ') from ' ~ own).columns[0].values()[0] -%}
    {%- do cache.update({this.render(): none if value is none else value | string}) -%}
  {%- endif -%}
  {{ return(cache[this.render()]) }}
{% endmacro %}


{% macro window_filter(column, lookback_days=0) %}
  {#- A predicate keeping `column` inside the run window (optionally widened by lookback_days before its start). -#}
  {%- set window = run_window() -%}
  {%- set predicates = [] -%}
  {%- if window.start -%}
    {%- set start = modules.datetime.date.fromisoformat(window.start) - modules.datetime.timedelta(days=lookback_days) -%}
    {%- do predicates.append(column ~ ' >= ' ~ date_literal(start.isoformat())) -%}
  {%- endif -%}
  {%- if window.end -%}
    {%- do predicates.append(column ~ ' <= ' ~ date_literal(window.end)) -%}
  {%- endif -%}
  {{- predicates | join(' and ') if predicates else '1 = 1' -}}
{% endmacro %}


{% macro date_literal(iso_date) -%}
  cast('{{ iso_date }}' as date)
{%- endmacro %}


{% macro validate_run_window() %}
  {#-
    on-run-start hook: a bad var (validate_vars: every declared var against its type) or a bad window
    stops the invocation before any model runs (nothing is written). dbt renders this hook while it
    parses the project, so these checks run before any node does.
    At execution time it also checks that an explicit window touches at least one season of the schedule.
  -#}
  {%- do validate_vars() -%}
  {%- set window = run_window_vars() -%}
  {%- if execute and window.start and typed_var('check_window_against_schedule') -%}
    {%- set schedule = source('nba_raw', 'nbac_schedule') -%}
    {%- set relation = adapter.get_relation(database=schedule.database, schema=schedule.schema, identifier=schedule.identifier) -%}
    {%- if relation is not none -%}
      {%- set result = run_query("select cast(min(game_date) as " ~ dbt.type_string() ~ "), cast(max(game_date) as " ~ dbt.type_string() ~ ") from " ~ relation) -%}
      {%- set first_game, last_game = result.rows[0][0], result.rows[0][1] -%}
      {%- if first_game is not none and (window.end < (first_game | string) or window.start > (last_game | string)) -%}
        {%- set name = 'date' if window.mode == 'date' else 'start_date/end_date' -%}
        {{ exceptions.raise_compiler_error("Run window: var '" ~ name ~ "' (" ~ window.start ~ (" to " ~ window.end if window.mode == 'range' else '') ~ ") is outside every season in the schedule (" ~ first_game ~ " to " ~ last_game ~ ").") }}
      {%- endif -%}
    {%- endif -%}
  {%- endif -%}
  {%- if execute -%}
    {%- set effective = run_window() -%}
    {%- do log("Run window: " ~ effective.mode ~ (" from " ~ effective.start if effective.start else "") ~ (" to " ~ effective.end if effective.end else ""), info=true) -%}
  {%- endif -%}
{% endmacro %}
