{#-
  Typed vars. dbt_project.yml declares every var once: its default in the vars block and its type in
  the var `var_types` next to them. typed_var(name) is the one way the project reads a var: it checks
  the value against the declared type and stops with a message naming the var, the value and the
  type expected. validate_vars() checks every declared var; the on-run-start hook validate_run_window
  calls it, and dbt renders that hook while it parses the project, so a bad value stops the
  invocation before any node runs (nothing is written).

  Types (append ' or null' when null is allowed, e.g. for an optional date):
    boolean           true or false, unquoted (the string "false" is refused, never read as true)
    share             a number in (0, 1]             share_or_zero     a number in [0, 1]
    percent           a number in (0, 100]           positive_number   a number > 0 (hours, PSI)
    positive_integer  a whole number > 0 (days, counts)
    severity          warn or error
    date              YYYY-MM-DD, a calendar date (parse_window_date)
    dates             a date or a list of dates (read as a list of YYYY-MM-DD)
    timestamp         'YYYY-MM-DD HH:MM:SS' (UTC), a real time
    time_of_day       'HH:MM'                        timezone          an IANA name (America/New_York)
    list              a list of names                string            non-empty text
  Strings are not numbers or booleans: a quoted "0.2" or "false" is refused, so what a value means
  never depends on how a scheduler template quoted it.
-#}

{% macro typed_var(name) %}
  {#- The value of a declared var, checked against its declared type (dates and timestamps as text). -#}
  {%- set types = var('var_types', {}) -%}
  {%- if name not in types -%}
    {{ exceptions.raise_compiler_error("Var '" ~ name ~ "' has no type: declare it in dbt_project.yml, its default in vars and its type in var_types.") }}
  {%- endif -%}
  {{ return(check_var_type(name, var(name, none), types[name])) }}
{% endmacro %}


{% macro describe_var_value(value) %}
  {%- if value is string -%}
    {{ return('"' ~ value ~ '" (text)') }}
  {%- elif value is none -%}
    {{ return('null') }}
  {%- elif value is boolean -%}
    {{ return('true' if value else 'false') }}
  {%- elif value is mapping -%}
    {{ return(value ~ ' (a mapping)') }}
  {%- elif value is iterable -%}
    {{ return(value | list ~ ' (a list)') }}
  {%- endif -%}
  {{ return(value | string) }}
{% endmacro %}


{% macro check_var_type(name, value, declared) %}
  {#- Returns the value when it has the declared type (dates and timestamps as normalized text), raises otherwise. -#}
  {%- set optional = declared.endswith(' or null') -%}
  {%- set kind = declared[:-8] if optional else declared -%}
  {%- set expected = {
      'boolean': 'a boolean: true or false, unquoted',
      'share': 'a share: a number greater than 0 and at most 1',
      'share_or_zero': 'a share: a number from 0 to 1 (0.6 is 60 %)',
      'percent': 'a percentage: a number greater than 0 and at most 100',
      'positive_number': 'a number greater than 0',
      'positive_integer': 'a whole number greater than 0',
      'severity': "a severity: warn or error",
      'date': 'a date as YYYY-MM-DD',
      'dates': 'a date or a list of dates as YYYY-MM-DD',
      'timestamp': "a UTC time as 'YYYY-MM-DD HH:MM:SS'",
      'time_of_day': "a time of day as 'HH:MM'",
      'timezone': 'a time zone name such as America/New_York',
      'list': 'a list, e.g. [a, b]',
      'string': 'a non-empty text',
  } -%}
  {%- if kind not in expected -%}
    {{ exceptions.raise_compiler_error("Var '" ~ name ~ "' is declared in var_types as '" ~ declared ~ "', which is not a type; expected one of: " ~ expected.keys() | sort | join(', ') ~ " (optionally followed by ' or null').") }}
  {%- endif -%}
  {%- set problem = "Var '" ~ name ~ "' is " ~ describe_var_value(value) ~ ', expected ' ~ expected[kind] ~ (' or null' if optional else '') -%}
  {%- set fail = namespace(reason=none) -%}
  {%- if value is none or (value is string and value | trim == '') -%}
    {%- if optional -%}{{ return(none) }}{%- endif -%}
    {%- set fail.reason = 'a value is required' -%}
  {%- elif kind == 'boolean' -%}
    {%- if value is boolean -%}{{ return(value) }}{%- endif -%}
  {%- elif kind in ('share', 'share_or_zero', 'percent', 'positive_number', 'positive_integer') -%}
    {%- if value is number and value is not boolean and (kind != 'positive_integer' or value is integer) -%}
      {%- set upper = 1 if kind in ('share', 'share_or_zero') else (100 if kind == 'percent' else none) -%}
      {%- if (value > 0 or (kind == 'share_or_zero' and value == 0)) and (upper is none or value <= upper) -%}
        {{ return(value) }}
      {%- endif -%}
      {%- if kind == 'share' and value > 1 and value <= 100 -%}{%- set fail.reason = value ~ ' looks like a percentage: ' ~ value ~ ' % is ' ~ value / 100 -%}{%- endif -%}
    {%- endif -%}
  {%- elif kind == 'severity' -%}
    {%- if value in ('warn', 'error') -%}{{ return(value) }}{%- endif -%}
  {%- elif kind == 'date' -%}
    {#- The run window's date check: one definition. -#}
    {{ return(parse_window_date(name, value)) }}
  {%- elif kind == 'dates' -%}
    {%- if value is mapping -%}{%- set fail.reason = 'a mapping is not a list of dates' -%}{%- else -%}
      {%- set items = [value] if value is string or value is not iterable else value -%}
      {%- set dates = [] -%}
      {%- for item in items -%}{%- do dates.append(parse_window_date(name, item)) -%}{%- endfor -%}
      {{ return(dates | reject('none') | list) }}
    {%- endif -%}
  {%- elif kind == 'timestamp' -%}
    {%- set text = value | string | trim -%}
    {%- set match = modules.re.match('^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2})(:([0-9]{2}))?$', text) -%}
    {%- if match -%}
      {%- if is_calendar_date(match.group(1)) and match.group(2) | int < 24 and match.group(3) | int < 60 and (match.group(5) or '0') | int < 60 -%}
        {{ return(text) }}
      {%- endif -%}
      {%- set fail.reason = 'no such date and time' -%}
    {%- endif -%}
  {%- elif kind == 'time_of_day' -%}
    {%- set match = modules.re.match('^([0-9]{2}):([0-9]{2})$', value | string) if value is string else none -%}
    {%- if match and match.group(1) | int < 24 and match.group(2) | int < 60 -%}{{ return(value) }}{%- endif -%}
  {%- elif kind == 'timezone' -%}
    {%- if value is string and value in modules.pytz.all_timezones_set -%}{{ return(value) }}{%- endif -%}
  {%- elif kind == 'list' -%}
    {%- if value is iterable and value is not string and value is not mapping -%}{{ return(value) }}{%- endif -%}
  {%- elif kind == 'string' -%}
    {%- if value is string -%}{{ return(value) }}{%- endif -%}
  {%- endif -%}
  {{ exceptions.raise_compiler_error(problem ~ (' (' ~ fail.reason ~ ')' if fail.reason else '') ~ ". Nothing was written. Fix the value in --vars (or dbt_project.yml) and re-run.") }}
{% endmacro %}


{% macro validate_vars() %}
  {#-
    Checks every declared var (dbt_project.yml: vars and their var_types) and warns about a var given
    on the command line that the project does not declare (a typo would silently keep the default).
  -#}
  {%- set types = var('var_types', {}) -%}
  {%- if types is not mapping or not types -%}
    {{ exceptions.raise_compiler_error("Var 'var_types' is " ~ describe_var_value(types) ~ ", expected the mapping of every var to its type that dbt_project.yml declares; do not pass it in --vars.") }}
  {%- endif -%}
  {%- for name in types -%}
    {%- do typed_var(name) -%}
  {%- endfor -%}
  {%- set given = invocation_args_dict.get('vars') or {} -%}
  {%- if given is mapping and execute -%}
    {%- for name in given | sort if name not in types and name != 'var_types' -%}
      {%- do log("WARN var '" ~ name ~ "' is not declared in dbt_project.yml: the project does not read it (declared vars: " ~ types.keys() | sort | join(', ') ~ ").", info=true) -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}
