{% test expression_is_true(model, expression, where_clause=none) %}
{#- Fails with every row where the boolean expression is false or NULL. -#}
select *
from {{ model }}
where
    not coalesce({{ expression }}, false)
    {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
