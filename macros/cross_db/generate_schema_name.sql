{#-
  Dataset names. In production (target name 'prod') the custom schema is used as is, so tables
  land in nba_precompute / nba_predictions exactly as consumers expect. Every other target
  prefixes it with the target's schema (dev_nba_precompute, alice_nba_precompute, ...).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- elif target.name == 'prod' -%}
    {{ custom_schema_name | trim }}
  {%- else -%}
    {{ target.schema }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}
