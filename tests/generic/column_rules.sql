{% test column_rules(model, not_null=none, ranges=none, accepted_values=none, expressions=none, finite=none, one_row_per=none) %}
{#-
  The column rules of one model checked in a single scan: one test node and one query per model
  instead of one per column and rule (about 20 per output table). That keeps a daily build quick on
  DuckDB, where dbt's own cost per test node dominates, and saves a query and its latency per rule on
  BigQuery. Fails with every offending row, labelled with the first rule it breaks (`broken_rule`):
  the failure count is the number of bad rows, and the test's query shows their keys and values.

  not_null:        [column, ...]                     the column is never NULL
  ranges:          {column: [min, max]}              min <= column <= max (either bound may be null; NULLs pass)
  accepted_values: {column: [value, ...]}            column is one of the values (NULLs pass)
  expressions:     {name: sql}                       the boolean holds on every row (false or NULL fails)
                   {name: {expression: sql, where: sql, value: sql}}   ... on the rows where `where` holds;
                   `value` is shown as the failing value (`broken_value`)
  one_row_per:     {name: {key: [column, ...], listing: column}}   no two rows share the key (e.g. one game
                   per player per date); every row of a shared key fails, and `broken_value` lists the
                   `listing` values of the rows sharing it (e.g. the games)
  finite:          [column, ...], or source_floats    the value is not NaN or +-infinity (NULLs pass);
                   source_floats: every column the model's source declares as a float (derived, so a
                   new float column of the source is checked without editing the test)

  Column rules, expressions with a `value` and one_row_per rules also return the failing value as text
  (`broken_value`).
-#}
{%- set rules = [] -%}
{%- for column in (not_null or []) -%}
    {%- do rules.append({'rule': column ~ ' is not null', 'fails': column ~ ' is null', 'column': column}) -%}
{%- endfor -%}
{%- for column in (source_float_columns(model) if finite == 'source_floats' else (finite or [])) -%}
    {%- do rules.append({'rule': column ~ ' is finite', 'fails': is_not_finite(column), 'column': column}) -%}
{%- endfor -%}
{%- for column, bounds in (ranges or {}).items() -%}
    {%- if bounds is string or bounds | length != 2 -%}
        {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": the range of " ~ column ~ " must be [min, max], got " ~ bounds) }}
    {%- endif -%}
    {%- set outside = [] -%}
    {%- if bounds[0] is not none -%}{%- do outside.append(column ~ ' < ' ~ bounds[0]) -%}{%- endif -%}
    {%- if bounds[1] is not none -%}{%- do outside.append(column ~ ' > ' ~ bounds[1]) -%}{%- endif -%}
    {%- set label = column ~ (' at most ' ~ bounds[1] if bounds[0] is none else (' at least ' ~ bounds[0] if bounds[1] is none else ' between ' ~ bounds[0] ~ ' and ' ~ bounds[1])) -%}
    {%- do rules.append({'rule': label, 'fails': outside | join(' or ') or '1 = 0', 'column': column}) -%}
{%- endfor -%}
{%- for column, values in (accepted_values or {}).items() -%}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append(value if value is number else "'" ~ escape_single_quotes(value) ~ "'") -%}
    {%- endfor -%}
    {%- set shown = values | join(', ') if values | length <= 8 else 'one of ' ~ values | length ~ ' accepted values' -%}
    {%- do rules.append({'rule': column ~ ' in (' ~ shown ~ ')', 'fails': column ~ ' not in (' ~ literals | join(', ') ~ ')', 'column': column}) -%}
{%- endfor -%}
{%- for name, check in (expressions or {}).items() -%}
    {%- set expression = check.get('expression') if check is mapping else check -%}
    {%- if not expression -%}
        {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": expression " ~ name ~ " has no SQL (give a string, or {expression: ..., where: ...})") }}
    {%- endif -%}
    {%- set fails = 'not coalesce((' ~ expression ~ '), false)' -%}
    {%- if check is mapping and check.get('where') -%}
        {%- set fails = 'coalesce((' ~ check.where ~ '), false) and ' ~ fails -%}
    {%- endif -%}
    {%- do rules.append({'rule': name, 'fails': fails, 'column': check.get('value') if check is mapping else none}) -%}
{%- endfor -%}
{#- one_row_per: each rule joins the keys that more than one row shares, with the listing of those rows -#}
{%- set shared_keys = [] -%}
{%- for name, check in (one_row_per or {}).items() -%}
    {%- if check is not mapping or not check.get('key') or not check.get('listing') -%}
        {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": one_row_per " ~ name ~ " must be {key: [column, ...], listing: column}, got " ~ check) }}
    {%- endif -%}
    {%- set key = [check.key] if check.key is string else check.key -%}
    {%- do shared_keys.append({'name': name, 'key': key, 'listing': check.listing, 'alias': 'shared_key_' ~ loop.index}) -%}
    {%- do rules.append({'rule': name, 'fails': name ~ '__listing is not null', 'column': name ~ '__listing'}) -%}
{%- endfor -%}
{%- if not rules -%}
    {{ exceptions.raise_compiler_error("column_rules on " ~ model ~ ": no rule given (not_null, ranges, accepted_values, expressions or one_row_per)") }}
{%- endif -%}

select
    *,
    case
        {%- for rule in rules %}
        when {{ rule.fails }} then '{{ escape_single_quotes(rule.rule) }}'
        {%- endfor %}
    end as broken_rule,
    case
        {%- for rule in rules if rule.column %}
        when {{ rule.fails }} then cast({{ rule.column }} as {{ dbt.type_string() }})
        {%- endfor %}
    end as broken_value
from
{%- if shared_keys %} (
    select
        checked_rows.*
        {%- for shared in shared_keys %},
        {{ shared.alias }}.listing as {{ shared.name }}__listing
        {%- endfor %}
    from {{ model }} as checked_rows
    {%- for shared in shared_keys %}
    left join (
        select
            {{ shared.key | join(', ') }},
            {{ dbt.listagg('cast(' ~ shared.listing ~ ' as ' ~ dbt.type_string() ~ ')', "', '", 'order by ' ~ shared.listing) }} as listing
        from {{ model }}
        group by {{ shared.key | join(', ') }}
        having count(*) > 1
    ) as {{ shared.alias }}
        on
        {%- for column in shared.key %}
        {{ 'and ' if not loop.first }}checked_rows.{{ column }} = {{ shared.alias }}.{{ column }}
        {%- endfor %}
    {%- endfor %}
) as checked_rows
{%- else %} {{ model }}
{%- endif %}
where
    {%- for rule in rules %}
    {{ 'or ' if not loop.first }}({{ rule.fails }})
    {%- endfor %}
{% endtest %}

