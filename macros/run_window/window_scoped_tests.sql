{#-
  Data tests on the output tables scan only the run window. dbt wraps every generic test's model
  in get_where_subquery; this override adds the run-window predicate on the tested model's
  window_column (when the run has date vars) to the test's own `where`. A daily run then tests the
  rows it wrote, not years of history; a full build without vars still tests every row.
  Named default__ on purpose: dbt dispatches get_where_subquery in its own namespace, and a root
  project's default__ implementation replaces dbt's for every adapter (the SQL here is portable).
-#}
{% macro default__get_where_subquery(relation) -%}
  {%- set conditions = [] -%}
  {%- set where = config.get('where', '') -%}
  {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
  {%- set window_column = tested_window_column() -%}
  {%- if window_column and run_window_vars().mode in ('date', 'range') -%}
    {%- do conditions.append(window_filter(window_column)) -%}
  {%- endif -%}
  {%- if conditions -%}
    {%- set filtered -%}
      (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}


{% macro tested_window_column() -%}
  {#- The window_column config of the model a generic test is attached to (none otherwise). -#}
  {%- set attached = model.get('attached_node') if model is mapping else none -%}
  {%- if execute and attached and attached in graph.nodes -%}
    {{ return(graph.nodes[attached].config.get('window_column')) }}
  {%- endif -%}
  {{ return(none) }}
{%- endmacro %}
