-- Version 2 of ml_feature_store_v2 extends version 1 (docs/feature_versions.md): both versions hold
-- the same players for every date of the run window, and on every computed row features 0-24 and
-- their labels are version 1's. Fails with each offending row and the rule it breaks.
{%- set dated = run_window_vars().mode in ('date', 'range') %}
with v1 as (
    select
        player_lookup,
        game_date,
        features,
        feature_sources
    from {{ ref('ml_feature_store_v2', v=1) }}
    {%- if dated %}
        where {{ window_filter('game_date') }}
    {%- endif %}
),

v2 as (
    select
        player_lookup,
        game_date,
        early_season_flag,
        features,
        feature_sources
    from {{ ref('ml_feature_store_v2', v=2) }}
    {%- if dated %}
        where {{ window_filter('game_date') }}
    {%- endif %}
)

select
    coalesce(v2.player_lookup, v1.player_lookup) as player_lookup,
    coalesce(v2.game_date, v1.game_date) as game_date,
    case
        when v1.player_lookup is null then 'only_in_version_2'
        when v2.player_lookup is null then 'only_in_version_1'
        else 'features_0_to_24_or_labels_differ_from_version_1'
    end as broken_rule
from v2
full outer join v1
    on
        v2.player_lookup = v1.player_lookup
        and v2.game_date = v1.game_date
where
    v1.player_lookup is null
    or v2.player_lookup is null
    or (
        not v2.early_season_flag
        and not coalesce(
            {%- for position in range(1, 26) %}
                {{ array_at('v2.features', position) }} = {{ array_at('v1.features', position) }}
                and {{ array_at('v2.feature_sources', position) }} = {{ array_at('v1.feature_sources', position) }}
                {%- if not loop.last %} and{% endif %}
            {%- endfor %}, false
        )
    )
