{% test accepted_range(model, column_name, min_value=none, max_value=none, where_clause=none) %}
{#- Fails with every row whose value lies outside [min_value, max_value] (NULLs pass). -#}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and (
        1 = 0
        {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
        {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
    )
    {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}
