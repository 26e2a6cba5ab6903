{% test no_feature_health_alert(model) %}
{#-
  The feature-health gate: fails with every (game_date, feature_version, feature_name) row of the run window whose
  status is 'alert'. Severity comes from the var feature_health_severity ('warn' by default,
  'error' in `make daily`); the on-run-end hook log_test_failures names the rows.
-#}
select
    game_date,
    feature_version,
    feature_name,
    status,
    cause,
    psi,
    default_share,
    default_share_change,
    players
from {{ model }}
where status = 'alert'
{% endtest %}


{% test slate_is_ready(model, min_share) %}
{#-
  The readiness gate: fails with every date of the run window (past the early season) whose share
  of the slate at gold or silver is below `min_share`, in the version the prediction service reads
  (is_served_version: the `active` row of the feature_versions seed, the model's latest version); the
  other versions' coverage is reported in the model, not gated. The on-run-end hook names the date and share.
-#}
select
    game_date,
    feature_version,
    slate_players,
    gold_rows + silver_rows as gold_silver_rows,
    gold_silver_share,
    {{ min_share }} as min_share
from {{ model }}
where is_served_version and not early_season_flag and coalesce(gold_silver_share, 0) < {{ min_share }}
{% endtest %}
