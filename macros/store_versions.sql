{% macro store_versions() %}
  {#- The version numbers of the model ml_feature_store_v2, ascending: feature_health, slate_coverage
      and ml_training_examples loop over them with ref('ml_feature_store_v2', v=n).
      dbt records a model's refs while it parses, before the graph exists, so the numbers are written
      here once; when dbt runs, they are checked against the versions the graph holds (the model's
      `versions:` in YAML, the source of truth), and a version added there but not here stops the run
      naming it (docs/feature_versions.md#adding-a-version). -#}
  {%- set declared = [1, 2] -%}
  {%- if execute and graph.get('nodes') -%}
    {%- set in_graph = [] -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == 'ml_feature_store_v2' -%}
      {%- do in_graph.append(node.version | int) -%}
    {%- endfor -%}
    {%- if in_graph | sort != declared -%}
      {{ exceptions.raise_compiler_error("The model ml_feature_store_v2 has the versions " ~ (in_graph | sort) ~ " but macros/store_versions.sql declares " ~ declared ~ ": write the model's versions there, so that its consumers (feature_health, slate_coverage, ml_training_examples) read every version.") }}
    {%- endif -%}
  {%- endif -%}
  {{ return(declared) }}
{% endmacro %}
