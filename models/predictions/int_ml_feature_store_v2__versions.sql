{{ config(materialized='view', schema='nba_staging', hash_merge=false) }}
-- Every version of ml_feature_store_v2 in one relation (one row per player, date and
-- feature_version), for the consumers that judge or export each version: feature_health,
-- slate_coverage, ml_training_examples. The versions come from macro store_versions (checked against
-- the model's versions at every run); every version has version 1's columns in the same order.
{%- for version in store_versions() %}
    select * from {{ ref('ml_feature_store_v2', v=version) }}
    {%- if not loop.last %}
        union all
    {%- endif %}
{%- endfor %}
