"""Four-season benchmark of the precompute build (make bench).

On a fresh DuckDB file it:
  1. generates four seasons of Phase 3 data with the project's generator;
  2. backfills all five tables (and ml_training_examples) over every date in one set-based pass, with `dbt run` (models only)
     and with `dbt build` (every data and unit test too), reporting wall time, rows per table, each
     model's time from run_results.json and the peak memory of the dbt process (the first `dbt run`,
     which also re-parses the project, is reported on its own);
  3. runs a daily build (five models plus their data tests; unit tests are CI's) of one mid-season date,
     timed twice: as the first invocation with that date (dbt re-parses the project because --vars
     changed) and as a repeat with the same --vars (dbt reuses its partial parse);
  4. re-runs that date unchanged and reports the rows written (must be 0);
  5. runs a per-date loop (one dbt invocation per date) over 10 consecutive game dates and reports
     seconds per date next to the backfill's seconds per date;
and writes every figure to target/bench.json. Steps repeat --repeat times; figures are medians.
Timings on shared 2-core machines are noisy: read the medians, not single runs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from project_outputs import outputs, read_manifest

REPO = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))
# The five tables and the training examples built from them (ml_training_examples is their only child).
OUTPUTS = "+ml_training_examples"
# Backfills run with the completeness gates as warnings (as make backfill does). Run and build get the
# same --vars, so only the first invocation re-parses the project; that one is reported on its own.
BACKFILL_VARS = "{completeness_severity: warn}"
TARGETS = {  # the targets on a 2-core machine
    "backfill_run_seconds": 20, "backfill_build_seconds": 45, "daily_build_seconds": 8,
    "noop_rows_written": 0, "loop_to_backfill_ratio": 150, "backfill_peak_memory_mb": 2048,
}


class Bench:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = workdir / "bench.duckdb"
        profiles = workdir / "profiles"
        profiles.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "profiles.yml.example", profiles / "profiles.yml")
        self.env = {
            **os.environ, "DBT_PROFILES_DIR": str(profiles), "DBT_DUCKDB_PATH": str(self.db),
            "DBT_TARGET_PATH": str(workdir / "target"), "DBT_LOG_PATH": str(workdir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_TARGET": "dev",
        }

    def run(self, *args: str, echo: bool = True) -> dict:
        """Run a command; returns wall seconds, peak RSS (MB) of the process tree's largest child, output."""
        start = time.perf_counter()
        process = subprocess.Popen(args, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if echo:
                sys.stdout.write("    " + line)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"bench: {' '.join(args[:3])} failed:\n{''.join(lines[-30:])}")
        return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "output": "".join(lines)}

    def dbt(self, *args: str, echo: bool = True) -> dict:
        return self.run(DBT, *args, echo=echo)

    def run_results(self) -> dict:
        results = json.loads((self.workdir / "target" / "run_results.json").read_text())["results"]
        return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
                for r in results if r["unique_id"].startswith("model.")}

    def query(self, sql: str):
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()

    def execute(self, sql: str) -> None:
        with duckdb.connect(str(self.db)) as con:
            con.execute(sql)


def rows_written(output: str) -> dict:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"rows written: (\w+) = (\d+)", output)}


def median(values):
    return round(statistics.median(values), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed step (median reported)")
    parser.add_argument("--seasons", type=int, default=4)
    parser.add_argument("--loop-dates", type=int, default=10)
    parser.add_argument("--workdir", default=str(REPO / "target" / "bench"))
    args = parser.parse_args()
    workdir = Path(args.workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    bench = Bench(workdir)
    figures: dict = {"repeat": args.repeat, "seasons": args.seasons}

    print(f"[1/6] generating {args.seasons} seasons of Phase 3 data")
    generated = bench.run(sys.executable, "-m", "nba_phase3_gen", "--db", str(bench.db), "--seasons", str(args.seasons))
    figures["generate_seconds"] = round(generated["seconds"], 2)
    bench.dbt("seed", "--quiet", echo=False)
    # The tables the timed builds write (OUTPUTS), as the manifest the seed's parse wrote describes them.
    tables = {o.name: (o.schema, o.window_column)
              for o in outputs(read_manifest(workdir / "target"), upstream_of=OUTPUTS.lstrip("+")).values()}

    print("[2/6] full backfill, all five tables, one set-based pass")
    runs, builds = [], []
    for i in range(args.repeat):
        runs.append(bench.dbt("run", "--full-refresh", "--select", OUTPUTS, "--vars", BACKFILL_VARS, echo=i == 0))
        model_times = bench.run_results()
        builds.append(bench.dbt("build", "--full-refresh", "--select", OUTPUTS, "--vars", BACKFILL_VARS, echo=False))
    dates = bench.query("select count(distinct game_date) from dev_nba_predictions.ml_feature_store_v2")[0][0]
    figures["backfill_run_seconds"] = median([r["seconds"] for r in runs])
    figures["backfill_run_first_seconds"] = round(runs[0]["seconds"], 2)  # after `dbt seed`: a full re-parse
    figures["backfill_build_seconds"] = median([b["seconds"] for b in builds])
    figures["backfill_peak_memory_mb"] = round(max(r["peak_mb"] for r in runs + builds))
    figures["backfill_dates"] = dates
    figures["backfill_seconds_per_date"] = round(figures["backfill_run_seconds"] / dates, 4)
    figures["model_seconds"] = model_times
    figures["rows"] = {t: bench.query(f"select count(*) from {s}.{t}")[0][0] for t, (s, _) in tables.items()}

    game_dates = [r[0].isoformat() for r in bench.query(
        "select distinct game_date from dev_nba_predictions.ml_feature_store_v2 "
        "where not early_season_flag and game_date between '2023-01-01' and '2023-03-31' order by 1")]
    middle = len(game_dates) // 2
    day = game_dates[middle]
    print("[2b/6] export of every training example (scripts/training_set.py)")
    first, last = (value.isoformat() for value in bench.query(
        "select min(game_date), max(game_date) from dev_nba_predictions.ml_training_examples")[0])
    exported = bench.run(sys.executable, str(REPO / "scripts" / "training_set.py"), "--db", str(bench.db),
                         "--start", first, "--end", last, "--out", str(workdir / "training_set.parquet"))
    export_manifest = json.loads((workdir / "training_set.manifest.json").read_text())
    figures["export_seconds"] = round(exported["seconds"], 2)
    figures["export_rows"] = export_manifest["row_counts"]

    print(f"[3/6] daily builds (five models and their tests): {args.repeat} new dates, then {day} again")

    def daily(date: str) -> dict:
        for table, (schema, column) in tables.items():
            bench.execute(f"delete from {schema}.{table} where {column} = '{date}'")
        return bench.dbt("build", "--select", OUTPUTS, "--exclude-resource-type", "unit_test",
                         "--vars", f"{{date: {date}}}", echo=False)

    # A night's first invocation with a new date: dbt re-parses the whole project, because
    # partial parsing is discarded whenever --vars differ from the previous invocation's.
    new_dates = game_dates[middle - args.repeat + 1: middle + 1]
    firsts = [daily(date) for date in new_dates]
    # The same date again (a re-run: its parse is reused).
    dailies = [daily(day) for _ in range(args.repeat)]
    figures["daily_date"] = day
    figures["daily_build_seconds"] = median([d["seconds"] for d in dailies])
    figures["daily_build_new_date_seconds"] = median([f["seconds"] for f in firsts])
    figures["daily_new_dates"] = new_dates
    figures["daily_rows_written"] = rows_written(dailies[-1]["output"])

    print(f"[4/6] re-running {day} unchanged")
    noops = [bench.dbt("build", "--select", OUTPUTS, "--exclude-resource-type", "unit_test",
                       "--vars", f"{{date: {day}}}", echo=False) for _ in range(args.repeat)]
    written = rows_written(noops[-1]["output"])
    figures["noop_seconds"] = median([n["seconds"] for n in noops])
    figures["noop_rows_written_per_table"] = written
    figures["noop_rows_written"] = sum(written.values())

    loop_dates = game_dates[: args.loop_dates]
    print(f"[5/6] per-date loop over {len(loop_dates)} dates ({loop_dates[0]} .. {loop_dates[-1]})")
    loop_seconds = []
    for loop_day in loop_dates:
        for table, (schema, column) in tables.items():
            bench.execute(f"delete from {schema}.{table} where {column} = '{loop_day}'")
        loop_seconds.append(bench.dbt("run", "--select", OUTPUTS, "--vars", f"{{date: {loop_day}}}", echo=False)["seconds"])
    figures["loop_seconds_per_date"] = median(loop_seconds)
    figures["loop_to_backfill_ratio"] = round(figures["loop_seconds_per_date"] / figures["backfill_seconds_per_date"])

    print("[6/6] results")
    figures["targets"] = TARGETS
    (REPO / "target").mkdir(exist_ok=True)
    (REPO / "target" / "bench.json").write_text(json.dumps(figures, indent=2, default=str))
    print_table(figures)
    return 0


def print_table(figures: dict) -> None:
    rows = [
        ("backfill, dbt run (s)", figures["backfill_run_seconds"], f"<= {TARGETS['backfill_run_seconds']}"),
        ("  first run, with dbt's full re-parse (s)", figures["backfill_run_first_seconds"], ""),
        ("backfill, dbt build (s)", figures["backfill_build_seconds"], f"<= {TARGETS['backfill_build_seconds']}"),
        ("backfill peak memory (MB)", figures["backfill_peak_memory_mb"], f"< {TARGETS['backfill_peak_memory_mb']}"),
        ("dates backfilled", figures["backfill_dates"], ""),
        ("backfill s / date", figures["backfill_seconds_per_date"], ""),
        ("training-set export, every date (s)", figures["export_seconds"], ""),
        (f"daily build {figures['daily_date']} (s)", figures["daily_build_seconds"], f"<= {TARGETS['daily_build_seconds']}"),
        ("  first run of a new date, with re-parse (s)", figures["daily_build_new_date_seconds"], ""),
        ("no-op re-run rows written", figures["noop_rows_written"], "0"),
        ("per-date loop s / date", figures["loop_seconds_per_date"], ""),
        ("loop / backfill per date", figures["loop_to_backfill_ratio"], f">= {TARGETS['loop_to_backfill_ratio']}"),
    ]
    print(f"\n{'figure':<46}{'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<46}{value:>10}  {target}")
    print("\nrows per table:", ", ".join(f"{t}={n}" for t, n in figures["rows"].items()))
    print("training-set export rows:", figures["export_rows"])
    print("model seconds (backfill run):")
    for model, seconds in sorted(figures["model_seconds"].items(), key=lambda kv: -kv[1])[:10]:
        print(f"  {model:<48}{seconds:>7}")
    print("\nwritten to target/bench.json")


if __name__ == "__main__":
    sys.exit(main())
