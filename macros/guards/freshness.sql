{#-
  Source freshness as of the run (docs/guards.md).

  A nightly run for date D asks whether the sources were delivered in time for D's run: it looks only
  at rows first delivered by then and measures their age at that time. A row's delivery time is the
  sources' loaded_at_field, created_at: when the row first arrived (the Phase 3 contract and the
  generator keep it when a row is re-processed, which rewrites processed_at). So an upstream re-run
  that re-processes rows which were on time does not make a past run's sources look late, and a
  first delivery after the run still does. as_of is:
    - the var freshness_as_of (a UTC timestamp 'YYYY-MM-DD HH:MM:SS') when given;
    - for a dated run (date, or the end_date of a range) before today: that date at
      nightly_run_time in league_timezone (06:00 America/New_York by default);
    - otherwise (today or later, catch-up, full builds): now, the wall clock.
  Sources follow the games (meta freshness_clock), so their age is measured at the time they were
  due, when that is earlier than as_of:
    after_games   box scores and the schedule: due at the nightly run after the last game date
                  before D (their rows arrive the morning after the games);
    before_games  the upcoming context: due at the nightly run of the last game date on or before D
                  (each slate's context arrives the evening before).
  After a day without games (Thanksgiving, the All-Star break), or on such a day, the latest load is
  as old as the last game, and that is on time.

  `dbt source freshness` reads it through collect_freshness (overridden below), the build's guard
  through check_freshness_in_build: one definition, the thresholds of the sources YAML.
-#}

{% macro freshness_as_of() %}
  {#- The as-of time as a naive UTC datetime, or none for the wall clock. -#}
  {%- set explicit = typed_var('freshness_as_of') -%}
  {%- if explicit -%}
    {#- typed_var has checked it: a real UTC time as 'YYYY-MM-DD HH:MM[:SS]'. -#}
    {{ return(modules.datetime.datetime.fromisoformat(explicit | replace('T', ' '))) }}
  {%- endif -%}
  {%- set window = run_window_vars() -%}
  {%- if window.end is none -%}{{ return(none) }}{%- endif -%}
  {%- set now = modules.datetime.datetime.utcnow() -%}
  {%- set league_today = now.replace(tzinfo=modules.pytz.utc).astimezone(modules.pytz.timezone(typed_var('league_timezone'))).date() -%}
  {%- set run_time = nightly_run_utc(window.end) -%}
  {{ return(none if window.end >= league_today.isoformat() or run_time >= now else run_time) }}
{% endmacro %}


{% macro nightly_run_utc(iso_date) %}
  {#- The nightly run of a date (nightly_run_time in league_timezone) as a naive UTC datetime. -#}
  {%- set hour, minute = (typed_var('nightly_run_time') | string).split(':') | map('int') | list -%}
  {%- set local = modules.datetime.datetime.fromisoformat(iso_date ~ 'T00:00:00').replace(hour=hour, minute=minute) -%}
  {%- set zone = modules.pytz.timezone(typed_var('league_timezone')) -%}
  {{ return(zone.localize(local).astimezone(modules.pytz.utc).replace(tzinfo=none)) }}
{% endmacro %}


{% macro source_node_of(relation) %}
  {%- for source in graph.sources.values() if source.identifier == relation.identifier and source.schema == relation.schema -%}
    {{ return(source) }}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}


{% macro game_days_due(as_of, clock) %}
  {#-
    When a source that follows the games was due, capped at as_of:
      after_games   (box scores, schedule)  the nightly run after the last game date before the run date;
      before_games  (upcoming context)      the nightly run of the last game date on or before it.
  -#}
  {%- set schedule = source('nba_raw', 'nbac_schedule') -%}
  {%- set league_now = as_of.replace(tzinfo=modules.pytz.utc).astimezone(modules.pytz.timezone(typed_var('league_timezone'))) -%}
  {%- set comparison = '<' if clock == 'after_games' else '<=' -%}
  {%- set last = run_query("select cast(max(game_date) as " ~ dbt.type_string() ~ ") from " ~ schedule ~ " where game_date " ~ comparison ~ " " ~ date_literal(league_now.date().isoformat())).columns[0].values()[0] -%}
  {%- if last is none -%}{{ return(as_of) }}{%- endif -%}
  {%- set due_date = modules.datetime.date.fromisoformat(last | string) + modules.datetime.timedelta(days=1 if clock == 'after_games' else 0) -%}
  {%- set due = nightly_run_utc(due_date.isoformat()) -%}
  {{ return(due if due < as_of else as_of) }}
{% endmacro %}


{% macro freshness_sql(relation, loaded_at_field, filter=none) %}
  {#- max_loaded_at (rows first delivered by as_of: loaded_at_field is created_at) and snapshotted_at (the time their age is measured at). -#}
  {%- set as_of = freshness_as_of() -%}
  {%- set node = source_node_of(relation) -%}
  {%- set clock = none if node is none else ((node.config.meta or {}).get('freshness_clock') or (node.meta or {}).get('freshness_clock')) -%}
  {%- set measured_at = as_of or modules.datetime.datetime.utcnow().replace(microsecond=0) -%}
  {%- if clock in ('after_games', 'before_games') -%}{%- set measured_at = game_days_due(measured_at, clock) -%}{%- endif -%}
  {%- set conditions = [] -%}
  {%- if as_of -%}{%- do conditions.append(loaded_at_field ~ " <= cast('" ~ as_of ~ "' as " ~ dbt.type_timestamp() ~ ")") -%}{%- endif -%}
  {%- if filter -%}{%- do conditions.append('(' ~ filter ~ ')') -%}{%- endif -%}
  select
    max({{ loaded_at_field }}) as max_loaded_at,
    cast('{{ measured_at }}' as {{ dbt.type_timestamp() }}) as snapshotted_at
  from {{ relation }}
  {% if conditions %}where {{ conditions | join(' and ') }}{% endif %}
{% endmacro %}


{% macro collect_freshness(source, loaded_at_field, filter) %}
  {#- dbt's own freshness query (dbt source freshness), measured as of the run: see freshness_sql. -#}
  {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
    {{ freshness_sql(source, loaded_at_field, filter) }}
  {%- endcall %}
  {{ return(load_result('collect_freshness')) }}
{% endmacro %}


{% macro threshold_hours(threshold) %}
  {%- if not threshold or threshold.count is none or threshold.period is none -%}{{ return(none) }}{%- endif -%}
  {{ return((threshold.count | float) * {'minute': 1 / 60, 'hour': 1, 'day': 24}[threshold.period]) }}
{% endmacro %}


{% macro check_freshness_in_build(window) %}
  {#-
    The freshness gate inside a build, for selections that write output tables: the same query and
    thresholds as `dbt source freshness`, each source measured once. It is the nightly run's only
    freshness check (scripts/daily.py runs the build alone and repeats this message when it stops).
    Full builds of every date (mode all) rebuild history and do not depend on when the sources were
    loaded.
  -#}
  {%- if window.mode == 'all' -%}{{ return('') }}{%- endif -%}
  {%- set stale = [] -%}
  {%- for source in graph.sources.values() | sort(attribute='unique_id') if source.loaded_at_field and source.freshness -%}
    {%- set relation = api.Relation.create(database=source.database, schema=source.schema, identifier=source.identifier) -%}
    {%- set row = run_query(freshness_sql(relation, source.loaded_at_field, source.freshness.filter)).rows[0] -%}
    {%- set error_hours = threshold_hours(source.freshness.error_after) -%}
    {%- set warn_hours = threshold_hours(source.freshness.warn_after) -%}
    {%- set age = none if row[0] is none else ((row[1].replace(tzinfo=none) - row[0].replace(tzinfo=none)).total_seconds() / 3600) -%}
    {%- set label = source.source_name ~ '.' ~ source.name ~ ': ' ~ ('no rows loaded by ' ~ row[1] if age is none else 'latest load ' ~ row[0] ~ ', ' ~ '%.1f' | format(age) ~ ' h before ' ~ row[1] ~ ' UTC') -%}
    {%- if age is none or (error_hours is not none and age > error_hours) -%}
      {%- do stale.append(label ~ ' (error after ' ~ error_hours ~ ' h)') -%}
    {%- elif warn_hours is not none and age > warn_hours -%}
      {%- do log('WARN freshness: ' ~ label ~ ' (warn after ' ~ warn_hours ~ ' h)', info=true) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if stale -%}
    {{ exceptions.raise_compiler_error("Stale sources as of the run (nothing was written):\n  - " ~ stale | join("\n  - ") ~ "\nLoad them, or pass --vars '{freshness_as_of: \"YYYY-MM-DD HH:MM:SS\"}' to measure at another time.") }}
  {%- endif -%}
{% endmacro %}
