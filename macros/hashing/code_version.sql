{% macro consumer_code_version() -%}
  {#-
    The code version of the one Python model that reads the current model (its prepared inputs):
    dbt's checksum of that model's file (sha256 of its text), so it changes whenever the code does.
    The prepared input row carries it, so the row's input_fingerprint covers the model's code too.
    Empty while dbt parses and in unit tests (neither has the project graph).
  -#}
  {%- if not execute or not graph.get('nodes') -%}{{ return('') }}{%- endif -%}
  {%- set readers = [] -%}
  {%- for node in graph.nodes.values()
      if node.resource_type == 'model' and node.language == 'python' and model.unique_id in node.depends_on.nodes -%}
    {%- do readers.append(node) -%}
  {%- endfor -%}
  {%- if readers | length != 1 -%}
    {{ exceptions.raise_compiler_error("consumer_code_version in " ~ model.name ~ ": expected exactly one Python model reading it, found " ~ (readers | map(attribute='name') | join(', ') or 'none') ~ ".") }}
  {%- endif -%}
  {{ return(readers[0].checksum.checksum) }}
{%- endmacro %}
