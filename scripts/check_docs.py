"""Fail when a model or source column exists in the database but has no description in YAML.

Reads target/manifest.json (written by `dbt build`) and the DuckDB file of DBT_DUCKDB_PATH.
Also fails when a model, source, seed, macro or generic test of this project has no description
(an adapter implementation such as bigquery__x is covered by the description of its dispatcher x).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb

PROJECT = "nba_precompute"
ADAPTER_PREFIXES = {"default", "duckdb", "bigquery"}


def undocumented(manifest: dict, con) -> list[str]:
    problems: list[str] = []
    nodes = list(manifest["nodes"].values()) + list(manifest["sources"].values())
    for node in nodes:
        if node.get("package_name") != PROJECT or node["resource_type"] not in ("model", "source", "seed"):
            continue
        name = node["unique_id"]
        if not (node.get("description") or "").strip():
            problems.append(f"{name}: no description")
        documented = {c.lower() for c, meta in node.get("columns", {}).items() if (meta.get("description") or "").strip()}
        schema = node["schema"]
        table = node.get("alias") or node.get("identifier") or node["name"]
        rows = con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
        for (column,) in rows:
            if column.lower() not in documented:
                problems.append(f"{name}: column '{column}' has no description")
    macros = {m["name"]: m for m in manifest["macros"].values() if m.get("package_name") == PROJECT}
    for name, macro in macros.items():
        # An adapter implementation (default__x, bigquery__x, ...) is covered by its documented dispatcher x.
        prefix, _, base = name.partition("__")
        if base and prefix in ADAPTER_PREFIXES and (macros.get(base, {}).get("description") or "").strip():
            continue
        if not (macro.get("description") or "").strip():
            problems.append(f"{macro['unique_id']}: no description")
    return problems


def main() -> int:
    manifest = json.loads((Path(os.environ.get("DBT_TARGET_PATH", "target")) / "manifest.json").read_text())
    con = duckdb.connect(os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb"), read_only=True)
    problems = undocumented(manifest, con)
    for problem in problems:
        print(f"undocumented: {problem}")
    print(f"docs check: {len(problems)} undocumented items")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
