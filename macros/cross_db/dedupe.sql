{% macro latest_row_per_key(key_columns) -%}
  {#-
    Keeps one row per natural key: the latest processed_at wins, then created_at, then data_hash
    (all descending), so every run picks the same row (docs/decisions.md#tie-breaks).
  -#}
  qualify row_number() over (
    partition by {{ key_columns | join(', ') }}
    order by processed_at desc nulls last, created_at desc nulls last, data_hash desc nulls last
  ) = 1
{%- endmacro %}
