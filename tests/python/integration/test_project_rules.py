"""Rules every output table follows, checked on the parsed project (manifest.json), not restated.

They replace tests that pinned each Python model's exact `dbt.config` dict: instead of a copy of one
dict, the configuration of every incremental output table (SQL or Python) must agree with the rest of
the project: it merges on the key its uniqueness test checks, it is partitioned by the column its run
window filters on, and it clusters on columns it documents. A typo or a key changed in one place only
fails here.
"""
from __future__ import annotations

import json

import pytest

from dbt_harness import DbtProject


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, demo_source_db) -> dict:
    project = DbtProject(tmp_path_factory.mktemp("project_rules"), demo_source_db, artifacts=True)
    project.dbt("parse", "--quiet")
    return json.loads((project.workdir / "target" / "manifest.json").read_text())


def output_models(manifest: dict) -> dict:
    """{name: node} of the incremental models with a run window (the tables the pipeline writes)."""
    return {node["name"]: node for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
            and node["config"].get("window_column")}


def uniqueness_keys(manifest: dict, model_id: str) -> list[set]:
    """Column sets that a uniqueness data test of the model checks."""
    keys = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or node.get("attached_node") != model_id:
            continue
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") == "unique_combination_of_columns":
            keys.append(set(kwargs["combination_of_columns"]))
        elif meta.get("name") == "unique":
            keys.append({kwargs["column_name"]})
    return keys


def test_the_output_tables_are_found(manifest):
    # The five Phase 4 tables and the three prediction-side tables; the rules below hold for each.
    assert {"player_shot_zone_analysis", "team_defense_zone_analysis", "player_daily_cache",
            "player_composite_factors", "ml_feature_store_v2"} <= set(output_models(manifest))


@pytest.mark.check
def test_each_output_table_merges_on_the_key_its_uniqueness_test_checks(manifest):
    problems = []
    for name, node in output_models(manifest).items():
        unique_key = node["config"].get("unique_key")
        unique_key = {unique_key} if isinstance(unique_key, str) else set(unique_key or [])
        if node["config"].get("incremental_strategy") != "merge" or not unique_key:
            problems.append(f"{name}: not a merge on a unique key")
        elif unique_key not in uniqueness_keys(manifest, node["unique_id"]):
            problems.append(f"{name}: merges on {sorted(unique_key)}, no uniqueness test of that key")
        elif node["config"]["window_column"] not in unique_key:
            problems.append(f"{name}: window column {node['config']['window_column']} is not part of the key")
    assert problems == []


def test_each_output_table_is_partitioned_by_its_window_column_and_clusters_on_its_columns(manifest):
    problems = []
    for name, node in output_models(manifest).items():
        config, window = node["config"], node["config"]["window_column"]
        if (config.get("partition_by") or {}).get("field") != window:
            problems.append(f"{name}: partition_by {config.get('partition_by')} is not its window column {window}")
        documented = set(node["columns"])
        cluster_by = config.get("cluster_by") or []
        if not cluster_by or not set(cluster_by) <= documented:
            problems.append(f"{name}: cluster_by {cluster_by} not all documented columns")
    assert problems == []


def test_partitioning_is_stated_once_and_duckdb_ignores_it_silently(full_build):
    """partition_by (dbt-bigquery's) is the only partitioning config; dbt-duckdb reads that key as
    DuckLake partitioning and, on a plain DuckDB file, would warn once per output table. The project's
    duckdb__get_partitioned_by ignores it: a first build of every model logs no such warning."""
    assert "ducklake" not in full_build.result.stdout.lower(), [
        line for line in full_build.result.stdout.splitlines() if "ducklake" in line.lower()]


def test_every_dispatched_macro_names_the_adapters_it_serves_and_its_default_refuses(manifest):
    """Each macro the project dispatches in its own namespace has a duckdb__ and a bigquery__
    implementation, and its default__ stops with `unsupported_adapter` instead of running one
    engine's SQL on another. The dispatched names are read from the macros' own code."""
    import re

    macros = {node["name"]: node["macro_sql"] for node in manifest["macros"].values()
              if node["package_name"] == manifest["metadata"]["project_name"]}
    dispatched = {name for sql in macros.values()
                  for name in re.findall(r"adapter\.dispatch\('(\w+)'(?:\s*,\s*'nba_precompute')?\)", sql)}
    assert len(dispatched) > 10
    problems = [f"{name}: no {prefix}{name}" for name in sorted(dispatched)
                for prefix in ("default__", "duckdb__", "bigquery__") if prefix + name not in macros]
    problems += [f"default__{name} does not call unsupported_adapter" for name in sorted(dispatched)
                 if "default__" + name in macros and "unsupported_adapter(" not in macros["default__" + name]]
    assert problems == []
