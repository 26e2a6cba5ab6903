{% macro source_float_columns(model) %}
  {#- The non-integer numeric columns (float, numeric) declared in the sources YAML of the staging model `model` (a relation). -#}
  {%- set columns = [] -%}
  {%- if not execute -%}{{ return(columns) }}{%- endif -%}
  {%- set identifier = model.identifier if model is not string else none -%}
  {%- for node in graph.nodes.values() if node.resource_type == 'model' and identifier and node.alias == identifier -%}
    {%- for source_id in node.depends_on.nodes if source_id in graph.sources -%}
      {%- for column in graph.sources[source_id].columns.values() if modules.re.match('^(float|double|real|numeric|decimal|bignumeric)', (column.data_type or '') | lower) -%}
        {%- do columns.append(column.name) -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- if execute and identifier is none -%}
    {{ exceptions.raise_compiler_error("column_rules finite: source_floats needs the staging model itself, not a filtered subquery (" ~ model ~ ")") }}
  {%- endif -%}
  {{ return(columns) }}
{% endmacro %}
