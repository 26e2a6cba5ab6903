"""Typed vars (issue 24, point 1): every var has one declaration in dbt_project.yml (its default in
`vars`, its type in `var_types`), every read goes through typed_var(), and a malformed value stops
the invocation before anything runs, naming the var and the value.

The expectations are written by hand from the var's meaning (a share is in (0, 1], a boolean is
true or false), not read from the macro."""
from __future__ import annotations

import pytest

from conftest import RANGE_END, RANGE_START
from dbt_harness import DbtProject, all_states, build_models, output_of

# (var, value as an operator or a scheduler template writes it, what the message must say)
MALFORMED = [
    ("allow_full_refresh_of_window", '"false"', '"false" (text), expected a boolean'),
    ("allow_mass_delete", '"false"', '"false" (text), expected a boolean'),
    ("allow_mass_delete", "yes please", "(text), expected a boolean"),
    ("max_delete_share", "20", "20 looks like a percentage: 20 % is 0.2"),
    ("max_delete_share", "abc", '"abc" (text), expected a share'),
    ("max_delete_share", "0", "is 0, expected a share"),
    ("max_delete_share", '"0.2"', '"0.2" (text), expected a share'),
    ("slate_ready_min_share", "1.5", "is 1.5, expected a share"),
    ("completeness_severity", "fatal", '"fatal" (text), expected a severity: warn or error'),
    ("freshness_as_of", '"2021-13-01 06:00:00"', "no such date and time"),
    ("freshness_as_of", "yesterday", "expected a UTC time"),
    ("early_season_days", "2.5", "expected a whole number greater than 0"),
    ("league_timezone", "Eastern", "expected a time zone name"),
    ("nightly_run_time", '"6am"', "expected a time of day"),
    ("date", '"2021-02-30"', "'2021-02-30', which is not a calendar date"),
    ("allow_delete_dates", '["2021-11-31"]', "'2021-11-31', which is not a calendar date"),
]


@pytest.mark.check
@pytest.mark.parametrize("name, value, message", MALFORMED, ids=[f"{n}={v}" for n, v, _ in MALFORMED])
def test_a_malformed_var_stops_before_anything_runs_naming_it(project, name, value, message):
    result = project.dbt("parse", "--vars", f"{{{name}: {value}}}", check=False)
    text = " ".join(output_of(result).split())
    assert result.returncode != 0, text[-2000:]
    assert f"'{name}'" in text and message in text, text[-2000:]


def test_a_quoted_false_never_lets_a_full_refresh_replace_history(tmp_path, range_build):
    """The fault: `allow_full_refresh_of_window: "false"` (a template's quoting) with --full-refresh
    and a date dropped every other date of the five outputs with exit 0. Now the run stops before
    writing and every row stays."""
    project = DbtProject(tmp_path, range_build.db)
    before = all_states(project)
    assert {len(rows) for rows in before.values()} != {0}
    result = build_models(project, "--select", "+ml_feature_store_v2", "--full-refresh", "--vars",
                          f'{{date: {RANGE_END}, allow_full_refresh_of_window: "false"}}', check=False)
    assert result.returncode != 0
    assert "Var 'allow_full_refresh_of_window' is \"false\" (text)" in output_of(result)
    assert all_states(project) == before


def test_an_undeclared_var_is_named_so_a_typo_does_not_keep_the_default(tmp_path, range_build):
    """A misspelt var would silently keep the default: the run names it and the declared vars."""
    project = DbtProject(tmp_path, range_build.db)
    result = project.dbt("run", "--select", "stg_nba_raw__schedule", "--vars",
                         f"{{start_date: {RANGE_START}, end_date: {RANGE_END}, alow_mass_delete: true}}")
    text = output_of(result)
    assert "var 'alow_mass_delete' is not declared in dbt_project.yml" in text, text[-2000:]
    assert "allow_mass_delete" in text.split("alow_mass_delete' is not declared", 1)[1]
