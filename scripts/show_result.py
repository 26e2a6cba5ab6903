"""Print what `make demo` built: rows per table for the demo date and how to query them."""
from __future__ import annotations

import argparse
import sys

import duckdb

TABLES = [
    ("dev_nba_precompute", "player_shot_zone_analysis", "analysis_date"),
    ("dev_nba_precompute", "team_defense_zone_analysis", "analysis_date"),
    ("dev_nba_precompute", "player_daily_cache", "cache_date"),
    ("dev_nba_precompute", "player_composite_factors", "game_date"),
    ("dev_nba_predictions", "ml_feature_store_v2", "game_date"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--date", required=True)
    args = parser.parse_args()
    con = duckdb.connect(args.db, read_only=True)
    print(f"\nBuilt for {args.date} in {args.db}:")
    for schema, table, column in TABLES:
        count = con.sql(
            f"select count(*) from {schema}.{table} where {column} = cast(? as date)", params=[args.date]
        ).fetchall()[0][0]
        print(f"  {schema}.{table:<28} {count:>5} rows")
    tiers = con.sql(
        "select coalesce(quality_tier, 'placeholder') as tier, count(*) as players, "
        "round(avg(feature_quality_score), 1) as avg_quality "
        "from dev_nba_predictions.ml_feature_store_v2 where game_date = cast(? as date) group by 1 order by 1",
        params=[args.date],
    )
    print("\nFeature quality on that date:")
    print(tiers)
    query = (
        "select player_lookup, feature_quality_score, quality_tier, features "
        f"from dev_nba_predictions.ml_feature_store_v2 where game_date = '{args.date}' limit 5"
    )
    print("Look at it (any DuckDB client works on the file; with the project's venv):")
    print(f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{args.db}', read_only=True).sql(\\\"{query}\\\"))\"")
    print("Docs of every table and column: make docs, then open target/static_index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
