"""Print what `make demo` built: rows per table for the demo date and how to query them."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import duckdb

STORE = "ml_feature_store_v2"  # its latest version: what ref('ml_feature_store_v2') reads


def output_tables(manifest: dict) -> list[tuple[str, str, str]]:
    """(schema, table, date column) of the feature store and every output table it is built from,
    upstream first: the incremental models with a window_column among it and its ancestors, read
    from the manifest of the build (no second list of tables)."""
    nodes = manifest["nodes"]
    order: list[str] = []

    def visit(unique_id: str) -> None:
        if unique_id in order or unique_id not in nodes:
            return
        for parent in nodes[unique_id]["depends_on"]["nodes"]:
            visit(parent)
        order.append(unique_id)

    visit(next(unique_id for unique_id, node in nodes.items() if node["resource_type"] == "model"
               and node["name"] == STORE and node.get("version") == node.get("latest_version")))
    return [(nodes[n]["schema"], nodes[n].get("alias") or nodes[n]["name"], nodes[n]["config"]["window_column"])
            for n in order if nodes[n]["config"].get("window_column") and nodes[n]["config"].get("materialized") == "incremental"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--date", required=True)
    args = parser.parse_args()
    manifest = json.loads((Path(os.environ.get("DBT_TARGET_PATH", "target")) / "manifest.json").read_text())
    tables = output_tables(manifest)
    store_schema, store_table, _ = tables[-1]
    con = duckdb.connect(args.db, read_only=True)
    print(f"\nBuilt for {args.date} in {args.db}:")
    for schema, table, column in tables:
        count = con.sql(
            f"select count(*) from {schema}.{table} where {column} = cast(? as date)", params=[args.date]
        ).fetchall()[0][0]
        print(f"  {schema}.{table:<28} {count:>5} rows")
    tiers = con.sql(
        "select coalesce(quality_tier, 'placeholder') as tier, count(*) as players, "
        "round(avg(feature_quality_score), 1) as avg_quality "
        f"from {store_schema}.{store_table} where game_date = cast(? as date) group by 1 order by 1",
        params=[args.date],
    )
    print("\nFeature quality on that date:")
    print(tiers)
    query = (
        "select player_lookup, feature_quality_score, quality_tier, features "
        f"from {store_schema}.{store_table} where game_date = '{args.date}' limit 5"
    )
    print("Look at it (any DuckDB client works on the file; with the project's venv):")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{args.db}', read_only=True).sql(\\\"{query}\\\"))\"")
    print("Docs of every table and column: make docs, then open target/static_index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
