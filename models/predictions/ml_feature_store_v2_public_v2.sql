{{ config(materialized='view', hash_merge=false) }}
-- The public, contracted interface of ml_feature_store_v2 version 2 (docs/feature_versions.md): a view
-- over the Python-built table (dbt refuses a contract on a Python model); exposures depend on it.
select * from {{ ref('ml_feature_store_v2', v=2) }}
