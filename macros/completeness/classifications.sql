{#- Legacy classifications shared by the shot-zone tables (kept from legacy: docs/decisions.md#legacy-formulas). -#}

{% macro primary_scoring_zone(paint_rate, mid_range_rate, three_pt_rate) -%}
  {#- From the rounded 10-game rates, NULL treated as 0; paint is checked first. -#}
  case
    when coalesce({{ paint_rate }}, 0) = 0 and coalesce({{ mid_range_rate }}, 0) = 0 and coalesce({{ three_pt_rate }}, 0) = 0 then null
    when coalesce({{ paint_rate }}, 0) >= 40 then 'paint'
    when coalesce({{ three_pt_rate }}, 0) >= 40 then 'perimeter'
    when coalesce({{ mid_range_rate }}, 0) >= 35 then 'mid_range'
    else 'balanced'
  end
{%- endmacro %}


{% macro sample_quality(games, target) -%}
  case
    when {{ games }} >= {{ target }} then 'excellent'
    when {{ games }} >= {{ (target * 0.7) | round(0, 'floor') | int }} then 'good'
    when {{ games }} >= {{ (target * 0.5) | round(0, 'floor') | int }} then 'limited'
    else 'insufficient'
  end
{%- endmacro %}


{% macro extreme_zone(paint, mid_range, three_pt, comparison) -%}
  {#-
    Strongest (comparison '<=': smallest vs-league value) or weakest ('>=': largest) zone among
    the non-NULL candidates paint, mid_range, perimeter; ties go to the earlier one in that order.
  -#}
  case
    when {{ paint }} is not null
      and ({{ mid_range }} is null or {{ paint }} {{ comparison }} {{ mid_range }})
      and ({{ three_pt }} is null or {{ paint }} {{ comparison }} {{ three_pt }}) then 'paint'
    when {{ mid_range }} is not null
      and ({{ three_pt }} is null or {{ mid_range }} {{ comparison }} {{ three_pt }}) then 'mid_range'
    when {{ three_pt }} is not null then 'perimeter'
  end
{%- endmacro %}
