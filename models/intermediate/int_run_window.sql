{{ config(materialized='table') }}
-- One row: the bounds of this run's window (NULL = unbounded), for the Python models.
{%- set window = run_window() %}
select
    '{{ window.mode }}' as window_mode,
    {{ date_literal(window.start) if window.start else 'cast(null as date)' }} as window_start,
    {{ date_literal(window.end) if window.end else 'cast(null as date)' }} as window_end
