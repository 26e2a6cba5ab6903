"""Writing the tables into DuckDB: typed columns, a row fingerprint, stable row order.

`data_hash` is the first 16 hex characters of the SHA-256 of the row's business values (every
contract column, in order, rendered as text by DuckDB, NULL as `\\N`, joined by `|`).
All seven tables are replaced in one transaction.
"""

import duckdb
import pandas as pd

from .tables import Table


def _select(table: Table) -> str:
    casts = [f"CAST(nullif({c}, 'NaN'::DOUBLE) AS DOUBLE) AS {c}" if t == "DOUBLE" else f"CAST({c} AS {t}) AS {c}"
             for c, t in table.columns]
    return ",\n  ".join(casts)


def _hash(table: Table) -> str:
    parts = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '\\N')" for c, _ in table.columns)
    return f"left(sha256(concat_ws('|', {parts})), 16)"


def write_table(con: duckdb.DuckDBPyConnection, table: Table, frame: pd.DataFrame) -> int:
    """Replace `table` with the rows of `frame`; returns the row count."""
    con.register("incoming", frame)
    columns = ", ".join(c for c, _ in table.columns)
    con.execute(f"""
        CREATE OR REPLACE TABLE {table.qualified} AS
        WITH typed AS (
          SELECT {_select(table)},
            CAST(processed_at AS TIMESTAMP) AS processed_at,
            CAST(created_at AS TIMESTAMP) AS created_at
          FROM incoming
        )
        SELECT {columns}, {_hash(table)} AS data_hash, processed_at, created_at
        FROM typed
        ORDER BY {", ".join(table.order_by)}
    """)
    con.unregister("incoming")
    return len(frame)


def open_database(path: str) -> duckdb.DuckDBPyConnection:
    """Connect to (or create) the DuckDB file and make sure both schemas exist."""
    con = duckdb.connect(path)
    for schema in ("nba_raw", "nba_analytics"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return con
