"""Export the training examples of a date window to Parquet, with a JSON manifest beside it.

    make training-set START=2021-11-01 END=2021-11-30 [VERSION=2] [OUT=path.parquet] [MIN_QUALITY=85]
    .venv/bin/python scripts/training_set.py --start ... --end ... [--version ...] [--out ...] [--min-quality ...] [--db ...]

Reads `ml_training_examples` (DuckDB) for game dates START..END and one feature-set version (VERSION:
the model version, 1 or 2, or its id, e.g. v2_37features, from the feature_versions seed; by
default the version the prediction service reads, the seed's `active` row), drops the rows that cannot train
a points model, each counted under the first reason that applies:
  early_season        placeholder rows of days 0-13 of a season (no features);
  did_not_play        the player did not play (a DNP, or no box score);
  below_min_quality   feature_quality_score below --min-quality (only when given);
  not_training_ready  is_training_ready is not TRUE (only with --training-ready-only, READY_ONLY=1);
and writes one row per example: every column of the model but its write bookkeeping, the feature
vector as `features` plus one column per feature (named from the stored `feature_names`;
`feature_<name>` where an example column has the name already, listed in the manifest's
`feature_columns`), and a
`split` column (train / validation / test by date: the earliest 70 % of the dates, the next 15 %,
the last 15 %; no date is in two splits). The manifest `<out>.manifest.json` holds the row counts,
feature names and version, window, filters, split, code version of the models and the sha256 of
the Parquet file, and the provenance of the store (feature_sources, default_feature_count,
is_training_ready: columns of the file, counted in the manifest). Nothing is written when the window
holds no final game or when every row is filtered out, and OUT may not be the database, any DuckDB
file, a directory or a name not ending in .parquet (exit code 2, the message names the cause). File
and manifest are replaced as one unit (scripts/output_files.py): never an old manifest beside new data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from output_files import UserError, open_database, partial_path, replace_atomically, validate_output  # noqa: E402

MODEL = "ml_training_examples"
SCHEMA = "dev_nba_predictions"
SCHEDULE = "nba_raw.nbac_schedule"
# Write bookkeeping of the model: not part of an example.
BOOKKEEPING = ("data_hash", "created_at", "processed_at")
# Constant per feature version: written once, in the manifest.
PER_VERSION = ("feature_names", "feature_count")
SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
BATCH_ROWS = 50_000
# Files whose content defines the examples (the code version in the manifest).
CODE_PATHS = ("models", "macros", "seeds", "dbt_project.yml")
SEED = "feature_versions"  # one row per feature-set version (id v<model version>_..., active: the served one)
# The store's provenance of each row (ml_feature_store_v2), carried by the model: counted in the manifest.
PROVENANCE = ("feature_sources", "default_feature_count", "is_training_ready")

ExportError = UserError  # printed without a traceback, exit code 2


def iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date as YYYY-MM-DD") from None


def quality(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number between 0 and 100") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-100")
    return value


def window_parser(description: str) -> argparse.ArgumentParser:
    """The options shared by the export and the evaluation."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", required=True, type=iso_date, help="first game date, YYYY-MM-DD (START)")
    parser.add_argument("--end", required=True, type=iso_date, help="last game date, YYYY-MM-DD (END)")
    parser.add_argument("--min-quality", type=quality, default=None,
                        help="drop rows whose feature_quality_score is below this (0-100; MIN_QUALITY)")
    parser.add_argument("--training-ready-only", action="store_true",
                        help="drop rows whose is_training_ready is not TRUE (READY_ONLY=1)")
    parser.add_argument("--db", default=os.environ.get("DBT_DUCKDB_PATH", "data/nba.duckdb"),
                        help="DuckDB file (default: $DBT_DUCKDB_PATH or data/nba.duckdb)")
    parser.add_argument("--version", default=None,
                        help="feature-set version: the model version (1, 2) or its id (v2_37features); "
                             "default: the version the prediction service reads (active in the feature_versions seed)")
    parser.add_argument("--schema", default=SCHEMA, help=f"schema of {MODEL} (default {SCHEMA})")
    return parser


def check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.start > args.end:
        parser.error(f"START ({args.start}) is after END ({args.end})")


# ---------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------


def connect(db: str) -> duckdb.DuckDBPyConnection:
    return open_database(db)


def model_version(feature_version: str) -> int:
    """The model version of a feature-set id: ids start with `v<model version>_` (v2_37features -> 2;
    a unit test holds the seed to it)."""
    head = feature_version.split("_", 1)[0]
    if not (head.startswith("v") and head[1:].isdigit()):
        raise ExportError(f"feature version {feature_version!r} does not start with v<number>_")
    return int(head[1:])


def seed_versions(con, schema: str) -> list[tuple[str, bool]]:
    """(feature_version, active) of every row of the feature_versions seed, by model version."""
    try:
        rows = con.execute(f"select feature_version, active from {schema}.{SEED}").fetchall()
    except duckdb.Error:
        raise ExportError(f"{schema}.{SEED} does not exist: load the seeds first (dbt seed)") from None
    return sorted(rows, key=lambda row: model_version(row[0]))


def feature_version(con, schema: str, wanted: str | None) -> str:
    """The feature_version id that `wanted` names (a model version number, 2 or v2, or an id;
    None: the active version, the one the prediction service reads)."""
    rows = seed_versions(con, schema)
    known = ", ".join(f"{model_version(name)} ({name})" for name, _ in rows)
    if wanted is None:
        active = [name for name, is_active in rows if is_active]
        if len(active) != 1:
            raise ExportError(f"{schema}.{SEED} marks {len(active)} versions active; pass --version (one of {known})")
        return active[0]
    for name, _ in rows:
        if wanted.strip().lower().lstrip("v") == str(model_version(name)) or wanted.strip() == name:
            return name
    raise ExportError(f"--version {wanted!r} is no feature-set version: use one of {known}")


def relation(con, schema: str, version: str | None = None) -> tuple[str, str]:
    """(the examples of one feature-set version as a relation to read, its feature_version id)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, MODEL]
    ).fetchone()[0]
    if not found:
        raise ExportError(f"{schema}.{MODEL} does not exist: build it first "
                          f"(make backfill START=... END=..., or dbt build --select +{MODEL})")
    columns = {row[0] for row in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, MODEL]).fetchall()}
    missing = [name for name in PROVENANCE if name not in columns]
    if missing:
        raise ExportError(f"{schema}.{MODEL} has no column {', '.join(missing)} (built by an older version): "
                          f"rebuild it: dbt build --select +{MODEL} --full-refresh")
    chosen = feature_version(con, schema, version)
    return f"(select * from {schema}.{MODEL} where feature_version = '{chosen}') as examples", chosen


def example_columns(con, table: str) -> list[str]:
    """Every column of the model but its write bookkeeping and the per-version constants."""
    names = [row[0] for row in con.execute(f"select * from {table} limit 0").description]
    return [name for name in names if name not in BOOKKEEPING + PER_VERSION]


def filter_reasons(args: argparse.Namespace) -> dict:
    """{reason: SQL condition} of the filters in force, in the order a row is counted."""
    reasons = {"early_season": "early_season_flag", "did_not_play": "not played"}
    if args.min_quality is not None:
        reasons["below_min_quality"] = f"feature_quality_score < {args.min_quality!r}"
    if getattr(args, "training_ready_only", False):
        reasons["not_training_ready"] = "not coalesce(is_training_ready, false)"
    return reasons


def filter_reason(args: argparse.Namespace) -> str:
    """SQL: the first reason that drops a row, NULL for a kept row."""
    rules = " ".join(f"when {condition} then '{reason}'" for reason, condition in filter_reasons(args).items())
    return f"case {rules} end"


def final_games(con, start: str, end: str) -> int:
    """Final games of the window in the schedule (0 when the schedule is not there)."""
    try:
        return con.execute(
            f"select count(*) from {SCHEDULE} where game_status = 3 and game_date between ? and ?", [start, end]
        ).fetchone()[0]
    except duckdb.Error:
        return 0


def counts(con, table: str, args: argparse.Namespace) -> dict:
    start, end = args.start, args.end
    rows = con.execute(f"""
        select coalesce({filter_reason(args)}, 'kept') as reason, count(*)
        from {table} where game_date between ? and ? group by 1
    """, [start, end]).fetchall()
    by_reason = dict(rows)
    total = sum(by_reason.values())
    if total == 0:
        games = final_games(con, start, end)
        if games:
            raise ExportError(f"window {start} to {end}: {games} final games in the schedule but no row of this version in {MODEL}; "
                              f"build it first: dbt build --select {MODEL} --vars "
                              f"'{{start_date: {start}, end_date: {end}}}'")
        raise ExportError(f"window {start} to {end} holds no final game: no training example to export")
    filtered = {reason: by_reason.get(reason, 0) for reason in filter_reasons(args)}
    kept = by_reason.get("kept", 0)
    if kept == 0:
        reasons = ", ".join(f"{reason} {rows:,}" for reason, rows in filtered.items())
        raise ExportError(f"window {start} to {end}: all {total} examples were filtered out ({reasons})")
    result = {"total": total, "filtered_out": filtered, "filtered_out_total": total - kept, "exported": kept}
    result["final_games_in_schedule"] = final_games(con, start, end)
    result["final_games_with_examples"] = con.execute(
        f"select count(distinct game_id) from {table} where game_date between ? and ?", [start, end]).fetchone()[0]
    return result


def feature_definition(con, table: str, start: str, end: str) -> tuple[str, list[str]]:
    """(feature_version, feature_names) of the kept rows (the relation holds one version)."""
    rows = con.execute(f"""
        select distinct feature_version, array_to_string(feature_names, '|')
        from {table} where game_date between ? and ? and not early_season_flag and played
    """, [start, end]).fetchall()
    if len(rows) != 1:
        raise ExportError(f"window {start} to {end} holds {len(rows)} feature lists for one version: "
                          f"{sorted(r[0] for r in rows)}; rebuild {MODEL} for the window")
    return rows[0][0], rows[0][1].split("|")


def kept_dates(con, table: str, args: argparse.Namespace) -> list[str]:
    rows = con.execute(f"""
        select distinct game_date from {table}
        where game_date between ? and ? and {filter_reason(args)} is null order by 1
    """, [args.start, args.end]).fetchall()
    return [row[0].isoformat() for row in rows]


def time_split(dates: list[str]) -> dict:
    """{split: [first date, last date]} over the sorted distinct dates: the earliest 70 % train, the
    next 15 % validation, the last 15 % test (validation and test get at least one date each once
    there are three dates; fewer dates all train)."""
    n = len(dates)
    n_test = max(1, round(n * SPLIT_FRACTIONS["test"])) if n >= 3 else 0
    n_validation = max(1, round(n * SPLIT_FRACTIONS["validation"])) if n >= 3 else 0
    n_train = n - n_test - n_validation
    bounds, first = {}, 0
    for name, size in (("train", n_train), ("validation", n_validation), ("test", n_test)):
        bounds[name] = [dates[first], dates[first + size - 1]] if size else None
        first += size
    return bounds


def split_of(game_dates: pa.Array, split: dict) -> pa.Array:
    """The split name of each date (dates inside the bounds of time_split)."""
    result = pa.nulls(len(game_dates), pa.string())
    for name, bounds in split.items():
        if bounds:
            inside = pc.and_(pc.greater_equal(game_dates, pa.scalar(date.fromisoformat(bounds[0]))),
                             pc.less_equal(game_dates, pa.scalar(date.fromisoformat(bounds[1]))))
            result = pc.if_else(inside, pa.scalar(name), result)
    return result


def feature_columns(names: list[str], columns: list[str]) -> list[str]:
    """The column of each feature in the file: its name, or `feature_<name>` where an example column
    has that name already (version 2's has_prop_line feature beside the examples' has_prop_line)."""
    return [f"feature_{name}" if name in columns else name for name in names]


def with_feature_columns(table: pa.Table, columns: list[str], split: dict) -> pa.Table:
    table = table.append_column("split", split_of(table["game_date"].combine_chunks(), split))
    features = table["features"]
    for index, name in enumerate(columns):
        table = table.append_column(name, pc.list_element(features, index))
    return table


def read_examples(con, table: str, args: argparse.Namespace, names: list[str], split: dict):
    """Kept examples, ordered by date and player, as Arrow tables of at most BATCH_ROWS rows."""
    columns = ", ".join(example_columns(con, table))
    reader = con.sql(f"""
        select {columns} from {table}
        where game_date between $start and $end and {filter_reason(args)} is null
        order by game_date, player_lookup
    """, params={"start": args.start, "end": args.end}).to_arrow_reader(BATCH_ROWS)
    # Re-cut into row groups of exactly BATCH_ROWS rows: the file's bytes (and sha256) then do not
    # depend on how the engine happened to batch its result.
    pending, pending_rows = [], 0
    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        while pending_rows >= BATCH_ROWS:
            rows = pa.Table.from_batches(pending).combine_chunks()
            yield with_feature_columns(rows.slice(0, BATCH_ROWS), names, split)
            rest = rows.slice(BATCH_ROWS)
            pending, pending_rows = rest.to_batches(), rest.num_rows
    if pending_rows:
        yield with_feature_columns(pa.Table.from_batches(pending).combine_chunks(), names, split)


def versions(db: str, schema: str = SCHEMA) -> list[str]:
    """Every feature-set version of the feature_versions seed, by model version."""
    with connect(db) as con:
        return [name for name, _ in seed_versions(con, schema)]


def load(args: argparse.Namespace) -> tuple[pa.Table, dict]:
    """(kept examples as one Arrow table, export facts) of the window: used by the evaluation."""
    with connect(args.db) as con:
        table, _ = relation(con, args.schema, args.version)
        facts = prepare(con, table, args)
        parts = list(read_examples(con, table, args, facts["feature_columns"], facts["split"]))
    return pa.concat_tables(parts), facts


def prepare(con, table: str, args: argparse.Namespace) -> dict:
    row_counts = counts(con, table, args)
    version, names = feature_definition(con, table, args.start, args.end)
    dates = kept_dates(con, table, args)
    columns = feature_columns(names, example_columns(con, table) + ["split"])
    return {"row_counts": row_counts, "feature_version": version, "feature_names": names, "feature_columns": columns,
            "dates": dates, "split": time_split(dates)}


# ---------------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def project_code() -> dict:
    """sha256 over the model, macro and seed files (path and content, sorted), the git commit, and
    dbt's checksum of the model when target/manifest.json has it."""
    digest = hashlib.sha256()
    files = []
    for root in CODE_PATHS:
        path = REPO / root
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for path in sorted(files):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    version = {"project_files_sha256": digest.hexdigest(), "project_files": len(files)}
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if git.returncode == 0:
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", *CODE_PATHS],
                               capture_output=True, text=True).stdout.strip()
        version.update({"git_commit": git.stdout.strip(), "git_dirty": bool(dirty)})
    manifest = Path(os.environ.get("DBT_TARGET_PATH", REPO / "target")) / "manifest.json"
    if manifest.exists():
        node = json.loads(manifest.read_text()).get("nodes", {}).get(f"model.nba_precompute.{MODEL}")
        if node:
            version["dbt_model_checksum"] = node["checksum"]["checksum"]
    return version


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".parquet") + ".manifest.json")


def file_facts(path: Path) -> dict:
    """Rows per split and the provenance counts of a written Parquet file."""
    table = pq.read_table(path, columns=["split", "is_training_ready", "default_feature_count"])
    split = {row["values"]: row["counts"] for row in pc.value_counts(table["split"]).to_pylist()}
    provenance = {
        "columns": list(PROVENANCE),
        "training_ready_rows": pc.sum(pc.fill_null(table["is_training_ready"], False).cast(pa.int64())).as_py() or 0,
        "rows_with_default_features": pc.sum(pc.greater(pc.fill_null(table["default_feature_count"], 0), 0)
                                             .cast(pa.int64())).as_py() or 0,
    }
    return {"split": split, "provenance": provenance}


# ---------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------


def default_out(args: argparse.Namespace) -> str:
    return f"target/training/training_set_{args.start}_{args.end}.parquet"


def write_parquet(con, table: str, args: argparse.Namespace, facts: dict, path: Path) -> None:
    total = facts["row_counts"]["exported"]
    written, writer = 0, None
    try:
        for part in read_examples(con, table, args, facts["feature_columns"], facts["split"]):
            writer = writer or pq.ParquetWriter(path, part.schema, compression="zstd")
            writer.write_table(part)
            written += part.num_rows
            if total > BATCH_ROWS:
                print(f"  exported {written:,} / {total:,} rows ({100 * written / total:.0f} %)", file=sys.stderr)
    finally:
        if writer:
            writer.close()
    if written != total:
        raise ExportError(f"wrote {written} rows, expected {total}: the table changed during the export")


def export(args: argparse.Namespace) -> dict:
    out = validate_output(args.out or default_out(args), ".parquet", args.db)
    manifest_file = validate_output(manifest_path(out), ".json", args.db, option="manifest")
    started = time.perf_counter()
    manifest = {}
    with connect(args.db) as con:
        table, _ = relation(con, args.schema, args.version)
        facts = prepare(con, table, args)

        def write_manifest(path: Path) -> None:
            data = partial_path(out)  # the data file, written just before under its temporary name
            written = file_facts(data)
            manifest.update({
                "model": MODEL,
                "database": str(args.db),
                "relation": f"{args.schema}.{MODEL}",
                "window": {"start": args.start, "end": args.end},
                "filters": {"min_quality": args.min_quality,
                            "training_ready_only": bool(args.training_ready_only),
                            "dropped": list(filter_reasons(args))},
                "row_counts": facts["row_counts"],
                "feature_version": facts["feature_version"],
                "feature_names": facts["feature_names"],
                "feature_columns": facts["feature_columns"],
                "provenance": written["provenance"],
                "split": {name: {"dates": bounds, "rows": written["split"].get(name, 0)}
                          for name, bounds in facts["split"].items()},
                "project_code": project_code(),
                "file": {"path": str(out), "sha256": sha256_of(data), "bytes": data.stat().st_size},
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 2),
            })
            path.write_text(json.dumps(manifest, indent=2) + "\n")

        replace_atomically({out: lambda path: write_parquet(con, table, args, facts, path),
                            manifest_file: write_manifest})
    return manifest


def main(argv=None) -> int:
    parser = window_parser(__doc__)
    parser.add_argument("--out", default=None,
                        help="Parquet file to write, ending in .parquet (default target/training/training_set_<start>_<end>.parquet)")
    args = parser.parse_args(argv)
    check_window(parser, args)
    try:
        manifest = export(args)
    except ExportError as error:
        print(f"training-set: {error}", file=sys.stderr)
        return 2
    counts_ = manifest["row_counts"]
    missing = counts_["final_games_in_schedule"] - counts_["final_games_with_examples"]
    if missing > 0:
        print(f"training-set: warning: {missing} final games of the window have no example yet (labels not built: "
              f"dbt build --select {MODEL} --vars '{{start_date: {args.start}, end_date: {args.end}}}')", file=sys.stderr)
    dropped = ", ".join(f"{reason} {rows:,}" for reason, rows in counts_["filtered_out"].items())
    print(f"training-set {args.start} to {args.end}: {counts_['exported']:,} of {counts_['total']:,} examples "
          f"exported (filtered out: {dropped}) in {manifest['seconds']} s; "
          f"{manifest['provenance']['training_ready_rows']:,} training-ready")
    for name, split in manifest["split"].items():
        dates = f"{split['dates'][0]} to {split['dates'][1]}" if split['dates'] else "none"
        print(f"  {name:<10} {split['rows']:>8,} rows  dates {dates}")
    print(f"  {manifest['file']['path']} (sha256 {manifest['file']['sha256'][:12]}...)")
    print(f"  {manifest_path(Path(manifest['file']['path']))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
