"""Top-level generation: rosters, season simulations, the --until cut, and the DuckDB write."""

import time
from datetime import date

import pandas as pd

from . import tables, writer
from .rosters import season_rosters
from .season import simulate_season


def generate(db_path: str, seasons: list, seed: int, until: date | None, log) -> dict:
    """Generate `seasons` (start years) into `db_path`; returns rows written per table name."""
    started = time.perf_counter()
    con = writer.open_database(db_path)
    rosters = season_rosters(seed, max(seasons))
    simulated = []
    for season_year in seasons:
        simulated.append(simulate_season(seed, rosters[season_year]))
        log(f"season {season_year}: {len(simulated[-1].games)} games simulated "
            f"({time.perf_counter() - started:.1f}s)")
    cut = tables.make_cut(until, simulated)
    frames = [tables.season_frames(s, rosters[s.season_year].pool, seed, cut) for s in simulated]
    counts = {}
    con.execute("BEGIN TRANSACTION")
    for table in tables.TABLES:
        rows = pd.concat([f[table] for f in frames], ignore_index=True)
        counts[table.qualified] = writer.write_table(con, table, rows)
        log(f"wrote {table.qualified}: {counts[table.qualified]} rows")
    con.execute("COMMIT")
    con.close()
    log(f"done in {time.perf_counter() - started:.1f}s")
    return counts
