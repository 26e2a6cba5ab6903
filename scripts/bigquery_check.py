"""Offline proof that the project renders valid BigQuery SQL (no BigQuery account, no network).

    .venv/bin/python scripts/bigquery_check.py [--work-dir target/bq/check]

1. `dbt compile --target prod --no-populate-cache --no-introspect --selector bigquery_offline` with
   the dummy-token profile of tests/bigquery/profiles.yml, in three run-window modes (full refresh,
   one date, a date range). Python models are not compiled: `dbt.is_incremental` needs a live
   relation, so an incremental Python model cannot compile for BigQuery offline (selectors.yml).
   The catch-up mode (no vars, incremental) is not compiled either: it reads the output tables.
2. The incremental plumbing that `dbt compile` does not render: for every incremental SQL model,
   dbt-bigquery's CREATE TABLE (partition / cluster options) and the project's MERGE
   (`bigquery__get_merge_sql` -> `hash_merge_sql`), rendered through `dbt compile --inline`.
3. Every rendered statement is parsed with sqlfluff's BigQuery dialect (raw templater, so no
   database is touched) and must parse completely, plus rules sqlfluff does not enforce:
   no `::` casts, no parameterized types in CAST (BigQuery: "Parameterized types are not allowed
   in CAST expressions"), only BigQuery function names, only unnest() as a table function in
   FROM, no unrendered Jinja. A canary of invalid statements runs first, so the check cannot
   pass by accepting everything.
4. Name resolution on the target named `prod`: sources are `<project>.nba_analytics.*` /
   `<project>.nba_raw.*`, output models are written to `nba_precompute` / `nba_predictions`, and
   every ref/source of a compiled node appears in its compiled SQL under that name.
5. Unit-test fixtures given as SQL (`format: sql`) are BigQuery SQL too (step 3's rules), unless
   the unit test is tagged `duckdb_only` (selectors.yml keeps those off BigQuery).

Environment: the dbt commands use a private DBT_PROFILES_DIR (a copy of
tests/bigquery/profiles.yml.template), DBT_TARGET_PATH and DBT_LOG_PATH under --work-dir, never
the project's profiles.yml, target/ or logs/. Exit status 0 only when every
check passes; the last line reads `bigquery_check: N passed, M failed`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROFILES_TEMPLATE = PROJECT_DIR / "tests" / "bigquery" / "profiles.yml.template"
BQ_PROJECT = "nba-props-platform"
SOURCE_DATASETS = {"nba_analytics": "nba_analytics", "nba_raw": "nba_raw"}
OUTPUT_DATASETS = {"precompute": "nba_precompute", "predictions": "nba_predictions"}

# check_window_against_schedule: false keeps the on-run-start hook from reading the schedule.
DUCKDB_ONLY_TAG = "duckdb_only"  # unit tests with DuckDB-only fixture SQL; selectors.yml keeps them off BigQuery

MODES = {
    "full_refresh": ["--full-refresh"],
    "date": ["--vars", "{date: 2021-11-20, check_window_against_schedule: false}"],
    "range": ["--vars", "{start_date: 2021-11-01, end_date: 2021-11-30, check_window_against_schedule: false}"],
}

# GoogleSQL (BigQuery) function names, lower case, without the SAFE. prefix. A name outside this
# list fails the check: add it here only after checking the BigQuery function reference.
BIGQUERY_FUNCTIONS = set("""
abs acos acosh aead.decrypt_bytes aead.decrypt_string aead.encrypt any_value append approx_count_distinct
approx_quantiles approx_top_count approx_top_sum array array_agg array_concat array_concat_agg
array_first array_includes array_includes_all array_includes_any array_is_distinct array_last
array_length array_max array_min array_reverse array_slice array_to_string ascii asin asinh atan
atan2 atanh avg bag_of_words bit_and bit_count bit_or bit_xor bool byte_length case cast cbrt ceil
ceiling char_length character_length chr code_points_to_bytes code_points_to_string coalesce
collate concat contains_substr corr cos cosh cosine_distance cot coth count countif covar_pop
covar_samp csc csch cume_dist current_date current_datetime current_time current_timestamp date
date_add date_bucket date_diff date_from_unix_date date_sub date_trunc datetime datetime_add
datetime_bucket datetime_diff datetime_sub datetime_trunc dense_rank div edit_distance ends_with
error euclidean_distance exp extract farm_fingerprint first_value float64 floor format
format_date format_datetime format_time format_timestamp from_base32 from_base64 from_hex
generate_array generate_date_array generate_range_array generate_timestamp_array greatest grouping
hll_count.extract hll_count.init hll_count.merge hll_count.merge_partial ieee_divide if ifnull
initcap instr int64 is_inf is_nan json_array json_array_append json_array_insert json_extract
json_extract_array json_extract_scalar json_extract_string_array json_keys json_object json_query
json_query_array json_remove json_set json_strip_nulls json_type json_value json_value_array
justify_days justify_hours justify_interval keys.keyset_chain keys.new_keyset lag last_day
last_value lax_bool lax_float64 lax_int64 lax_string lead least left length ln log log10
logical_and logical_or lower lpad ltrim make_interval max max_by md5 min min_by mod
net.host net.ip_from_string net.ip_net_mask net.ip_to_string net.ip_trunc net.ipv4_from_int64
net.ipv4_to_int64 net.public_suffix net.reg_domain net.safe_ip_from_string normalize
normalize_and_casefold nth_value ntile nullif nullifzero octet_length parse_bignumeric parse_date
parse_datetime parse_json parse_numeric parse_time parse_timestamp percent_rank percentile_cont
percentile_disc pow power rand range range_bucket range_contains range_end range_intersect
range_overlaps range_sessionize range_start rank regexp_contains regexp_extract
regexp_extract_all regexp_instr regexp_replace regexp_substr repeat replace reverse right round
row_number rpad rtrim safe_add safe_cast safe_convert_bytes_to_string safe_divide safe_multiply
safe_negate safe_subtract sec sech session_user sha1 sha256 sha512 sign sin sinh soundex split
sqrt st_astext starts_with stddev stddev_pop stddev_samp string string_agg strpos struct substr
substring sum tan tanh text_analyze tf_idf time time_add time_diff time_sub time_trunc timestamp
timestamp_add timestamp_bucket timestamp_diff timestamp_micros timestamp_millis
timestamp_seconds timestamp_sub timestamp_trunc to_base32 to_base64 to_code_points to_hex
to_json to_json_string translate trim trunc typeof unicode unix_date unix_micros unix_millis
unix_seconds unnest upper var_pop var_samp variance zeroifnull
offset ordinal safe_offset safe_ordinal
""".split())  # the last line: array subscript specifiers, array[safe_ordinal(i)]

# Functions allowed directly in FROM (BigQuery table-valued functions this project may use).
BIGQUERY_TABLE_FUNCTIONS = {"unnest", "appends", "changes", "gap_fill", "range_sessionize", "external_query"}

# Statements that must be rejected; each proves one rule of the checker.
CANARY_INVALID = {
    "incomplete statement": "select a from b where",
    "DuckDB :: cast": "select x::int64 as y from t",
    "DuckDB lambda": "select list_filter([1, 2], lambda x: x > 1) as y",
    "DuckDB type double": "select cast(x as double) as y from t",
    "DuckDB type varchar": "select cast(x as varchar) as y from t",
    "UNION without ALL/DISTINCT": "select 1 as x union select 2 as x",
    "parameterized type in CAST": "select cast(x as numeric(5, 2)) as y from t",
    "DuckDB-only function": "select epoch_us(ts) as y from t",
    "unrendered Jinja": "select {{ ref('x') }}.a from t",
    "DuckDB table function range()": "select team from range(1, 12) as teams",
}
CANARY_VALID = (
    "select safe.parse_date('%Y-%m-%d', s) as d, cast(x as int64) as i, date_add(d, interval 1 day) as e\n"
    "from `p`.`d`.`t`\nqualify row_number() over (partition by i order by d desc nulls last) = 1"
)


# --------------------------------------------------------------------------------------------
# SQL checks (run in worker processes)
# --------------------------------------------------------------------------------------------

_LINTER = None


def _linter():
    global _LINTER
    if _LINTER is None:
        from sqlfluff.core import FluffConfig, Linter

        # ignore_local_config: the project's .sqlfluff uses the dbt templater (DuckDB profile).
        config = FluffConfig(overrides={"dialect": "bigquery", "templater": "raw"}, ignore_local_config=True)
        _LINTER = Linter(config=config)
    return _LINTER


def sql_problems(sql: str) -> list[str]:
    """Why `sql` is not valid BigQuery SQL (empty list: no problem found)."""
    problems = []
    if "{{" in sql or "{%" in sql:
        problems.append("unrendered Jinja")
        return problems
    parsed = _linter().parse_string(sql)
    for violation in parsed.violations:
        problems.append(f"parse: {violation.desc()}"[:300])
    tree = parsed.tree
    if tree is None:
        return problems or ["parse: no parse tree"]
    for segment in tree.recursive_crawl("unparsable"):
        line, pos = segment.pos_marker.line_no, segment.pos_marker.line_pos
        problems.append(f"unparsable at L{line}:{pos}: {segment.raw[:120]!r}")
    for segment in tree.recursive_crawl("casting_operator"):
        problems.append(f"'::' cast at L{segment.pos_marker.line_no} (not BigQuery; use cast(x as t))")
    for segment in tree.recursive_crawl("data_type"):
        if any(child.is_type("bracketed", "bracketed_arguments") for child in segment.segments):
            problems.append(
                f"parameterized type {segment.raw!r} at L{segment.pos_marker.line_no}"
                " (BigQuery: parameterized types are not allowed in CAST expressions)"
            )
    for table_expression in tree.recursive_crawl("table_expression"):
        for function in table_expression.segments:
            if function.is_type("function"):
                name = "".join(f.raw for f in function.segments if f.is_type("function_name")).lower()
                name = re.sub(r"\s+", "", name).strip("`")
                if name not in BIGQUERY_TABLE_FUNCTIONS:
                    problems.append(f"table function {name!r} in FROM at L{function.pos_marker.line_no}"
                                    " (BigQuery: use unnest(...))")
    for segment in tree.recursive_crawl("function_name"):
        name = re.sub(r"\s+", "", segment.raw).lower().strip("`")
        name = name[5:] if name.startswith("safe.") else name
        if name not in BIGQUERY_FUNCTIONS:
            problems.append(f"function {name!r} at L{segment.pos_marker.line_no} is not a BigQuery function")
    return problems


def _check_one(item: tuple[str, str]) -> tuple[str, list[str]]:
    label, sql = item
    return label, sql_problems(sql)


# --------------------------------------------------------------------------------------------
# dbt
# --------------------------------------------------------------------------------------------


def dbt_env(work_dir: Path, name: str) -> dict:
    env = dict(os.environ)
    env.update(
        DBT_PROFILES_DIR=str(work_dir / "profiles"),
        DBT_TARGET_PATH=str(work_dir / f"target-{name}"),
        DBT_LOG_PATH=str(work_dir / "logs" / name),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        BQ_PROJECT=BQ_PROJECT,
    )
    for key in ("DBT_TARGET", "DBT_PROFILE"):
        env.pop(key, None)
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(args: list[str], work_dir: Path, name: str) -> subprocess.CompletedProcess:
    command = [dbt_executable(), *args, "--target", "prod", "--no-populate-cache", "--no-introspect"]
    return subprocess.run(command, cwd=PROJECT_DIR, env=dbt_env(work_dir, name), capture_output=True, text=True)


def compile_mode(mode: str, extra: list[str], work_dir: Path) -> dict:
    result = run_dbt(["compile", "--selector", "bigquery_offline", "--quiet", *extra], work_dir, mode)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"dbt compile ({mode}) failed:\n{tail}")
    return json.loads((work_dir / f"target-{mode}" / "manifest.json").read_text())


def merge_inline(node: dict, compiled_sql: str) -> str:
    """Inline Jinja rendering dbt-bigquery's CREATE TABLE, the project's MERGE and its deletion count for one model."""
    config = node["config"]
    keys = config.get("unique_key")
    keys = [keys] if isinstance(keys, str) else list(keys or [])
    names = list(node.get("columns") or {})
    for name in [*keys, "data_hash", "created_at", config.get("written_at_column") or "processed_at"]:
        if name not in names:
            names.append(name)
    passthrough = {
        key: config.get(key)
        for key in ("hash_merge", "window_column", "written_at_column", "written_at_on_insert", "partition_by", "cluster_by",
                    "unique_key")
        if config.get(key) is not None
    }
    config_args = ", ".join(f"{key}={json.dumps(value)}" for key, value in passthrough.items())
    config_args = config_args.replace("true", "True").replace("false", "False").replace("null", "None")
    return (
        f"{{{{ config({config_args}) }}}}\n"
        "{%- if execute -%}\n"
        f"{{%- set target_relation = api.Relation.create(database={node['database']!r}, schema={node['schema']!r}, identifier={node['alias']!r}) -%}}\n"
        "{%- set tmp_relation = make_temp_relation(target_relation) -%}\n"
        f"{{%- set columns = [{', '.join(f'api.Column({n!r}, {chr(39)}STRING{chr(39)})' for n in names)}] -%}}\n"
        "{%- set body -%}{% raw %}" + compiled_sql + "{% endraw %}{%- endset -%}\n"
        "{{ get_create_table_as_sql(False, target_relation, body) }}\n"
        "-- statement separator --\n"
        f"{{{{ get_merge_sql(target_relation, tmp_relation, {keys!r}, columns) }}}}\n"
        "-- statement separator --\n"
        f"{{{{ deletion_count_sql(target_relation, tmp_relation, {keys!r}, {config.get('window_column')!r}) }}}}\n"
        "{%- endif -%}\n"
    )


def render_incremental_sql(manifest: dict, work_dir: Path) -> dict[str, str]:
    """{label: statement} of the CREATE TABLE, MERGE and deletion count of every incremental SQL model (date mode)."""
    rendered = {}
    nodes = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["language"] == "sql" and n["config"]["materialized"] == "incremental"
    ]
    for node in sorted(nodes, key=lambda n: n["name"]):
        compiled = Path(work_dir / "target-date" / "compiled" / node["package_name"] / node["original_file_path"]).read_text()
        # Same target path and vars as the date-mode compile: dbt reuses its partial parse.
        result = run_dbt(["compile", "--quiet", *MODES["date"], "--inline", merge_inline(node, compiled)], work_dir, "date")
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"rendering the MERGE of {node['name']} failed:\n{tail}")
        create_sql, merge_sql, count_sql = result.stdout.split("-- statement separator --")
        create_sql = create_sql.strip().rstrip(";").strip()
        merge_sql = re.sub(r"^\s*-- back compat.*$", "", merge_sql, flags=re.M).strip()
        if not create_sql.lower().startswith("create or replace table"):
            raise RuntimeError(f"unexpected CREATE TABLE rendering for {node['name']}:\n{create_sql[:400]}")
        if "merge into" not in merge_sql.lower():
            raise RuntimeError(f"unexpected MERGE rendering for {node['name']}:\n{merge_sql[:400]}")
        rendered[f"create table {node['name']}"] = create_sql
        rendered[f"merge {node['name']}"] = merge_sql
        rendered[f"deletion count {node['name']}"] = count_sql.strip()
    return rendered


# --------------------------------------------------------------------------------------------
# Resolution checks
# --------------------------------------------------------------------------------------------


def unit_test_fixtures(manifest: dict) -> tuple[dict[str, str], list[str]]:
    """({label: fixture SQL} of every format: sql fixture BigQuery runs, [unit tests tagged duckdb_only])."""
    fixtures, exempt = {}, []
    for uid, unit_test in manifest.get("unit_tests", {}).items():
        tags = set(unit_test.get("tags") or []) | set((unit_test.get("config") or {}).get("tags") or [])
        if DUCKDB_ONLY_TAG in tags:
            exempt.append(unit_test["name"])
            continue
        for fixture in (unit_test.get("given") or []) + [unit_test.get("expect") or {}]:
            if fixture.get("format") == "sql" and isinstance(fixture.get("rows"), str):
                fixtures[f"fixture {fixture.get('input', 'expect')} of {uid}"] = fixture["rows"]
    return fixtures, sorted(exempt)


def quoted(database: str, schema: str, identifier: str) -> str:
    return f"`{database}`.`{schema}`.`{identifier}`"


def resolution_problems(manifest: dict) -> tuple[list[str], list[str]]:
    """(problems, report lines) for source and output dataset names on target prod."""
    problems, report = [], []
    for source in manifest["sources"].values():
        expected_schema = SOURCE_DATASETS.get(source["source_name"])
        expected = quoted(BQ_PROJECT, expected_schema or "?", source["identifier"])
        if source["database"] != BQ_PROJECT or source["schema"] != expected_schema or source["relation_name"] != expected:
            problems.append(f"source {source['source_name']}.{source['name']} resolves to {source['relation_name']}, expected {expected}")
        report.append(f"source {source['source_name']}.{source['name']:<30} -> {source['relation_name']}")
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["package_name"] != manifest["metadata"]["project_name"]:
            continue
        folder = node["fqn"][1] if len(node["fqn"]) > 2 else None
        if folder in OUTPUT_DATASETS:
            # Output tables land in their folder's dataset; a Python model's prepared inputs beside it
            # (materialized as tables, not incremental) keep the staging dataset their config names.
            dataset = OUTPUT_DATASETS[folder] if node["config"]["materialized"] == "incremental" else node["config"]["schema"]
            expected = quoted(BQ_PROJECT, dataset, node["alias"])
            if node["relation_name"] != expected:
                problems.append(f"model {node['name']} resolves to {node['relation_name']}, expected {expected}")
            report.append(f"{node['language']:<6} model {node['name']:<30} -> {node['relation_name']}")
    return problems, sorted(report)


def table_option_problems(manifest: dict) -> list[str]:
    """BigQuery limits that only a live table would reveal: descriptions persisted by persist_docs
    (table <= 16384 characters, column <= 1024) and clustering (at most 4 columns)."""
    problems = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed") or node["package_name"] != manifest["metadata"]["project_name"]:
            continue
        if len(node.get("description") or "") > 16384:
            problems.append(f"{node['name']}: description has {len(node['description'])} characters (BigQuery: 16384 at most)")
        for column in (node.get("columns") or {}).values():
            if len(column.get("description") or "") > 1024:
                problems.append(f"{node['name']}.{column['name']}: description has {len(column['description'])}"
                                " characters (BigQuery: 1024 at most)")
        cluster_by = node["config"].get("cluster_by") or []
        cluster_by = [cluster_by] if isinstance(cluster_by, str) else cluster_by
        if len(cluster_by) > 4:
            problems.append(f"{node['name']}: cluster_by has {len(cluster_by)} columns (BigQuery: 4 at most)")
    return problems


def reference_problems(manifest: dict, compiled: dict[str, str]) -> list[str]:
    """Every ref/source a compiled node depends on appears in its SQL under its prod name."""
    relation_names = {
        uid: node.get("relation_name")
        for uid, node in {**manifest["nodes"], **manifest["sources"]}.items()
    }
    problems = []
    for uid, sql in compiled.items():
        for parent in manifest["nodes"][uid]["depends_on"]["nodes"]:
            name = relation_names.get(parent)
            if name and name not in sql:
                problems.append(f"{uid}: compiled SQL does not reference {parent} as {name}")
    return problems


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # under this checkout's target/: two clones checking side by side never share work files
    parser.add_argument("--work-dir", default=os.environ.get("BQ_CHECK_DIR", PROJECT_DIR / "target" / "bq" / "check"), type=Path)
    parser.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    args = parser.parse_args()
    work_dir: Path = args.work_dir.resolve()
    if work_dir == PROJECT_DIR or PROJECT_DIR in work_dir.parents and work_dir.name in ("target", "logs"):
        parser.error("--work-dir must not be the project's target/ or logs/")
    shutil.rmtree(work_dir, ignore_errors=True)
    (work_dir / "profiles").mkdir(parents=True)
    shutil.copy(PROFILES_TEMPLATE, work_dir / "profiles" / "profiles.yml")
    started = time.time()
    passed, failed = 0, 0

    def verdict(ok: bool, label: str, details: list[str] = ()) -> None:
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(f"  {'ok  ' if ok else 'FAIL'} {label}  [{time.time() - started:.0f} s]", flush=True)
        for line in list(details)[:12]:
            print(f"         {line}")
        if len(details) > 12:
            print(f"         ... and {len(details) - 12} more")

    print("Canary: the checker rejects invalid BigQuery SQL and accepts valid SQL")
    for label, sql in CANARY_INVALID.items():
        verdict(bool(sql_problems(sql)), f"rejects {label}")
    valid_problems = sql_problems(CANARY_VALID)
    verdict(not valid_problems, "accepts a valid BigQuery statement", valid_problems)

    statements: dict[str, str] = {}
    manifests = {}
    print(f"Compile for BigQuery target 'prod' offline in {len(MODES)} run-window modes (in parallel)", flush=True)
    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        futures = {mode: pool.submit(compile_mode, mode, extra, work_dir) for mode, extra in MODES.items()}
    for mode, extra in MODES.items():
        print(f"Run window {mode} ({' '.join(extra)})")
        try:
            manifest = futures[mode].result()
        except RuntimeError as error:
            verdict(False, f"dbt compile ({mode})", str(error).splitlines())
            continue
        manifests[mode] = manifest
        project = manifest["metadata"]["project_name"]
        # unique ids, not names: the versions of a versioned model share its name (model.<project>.<name>.v<n>)
        sql_models = sorted(
            uid for uid, n in manifest["nodes"].items()
            if n["resource_type"] == "model" and n["package_name"] == project and n["language"] == "sql"
        )
        python_models = sorted(
            n["name"] for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == project and n["language"] == "python"
        )
        compiled = {}
        for uid, node in manifest["nodes"].items():
            if node.get("compiled_code") is not None and node["package_name"] == project:
                compiled[uid] = node["compiled_code"]
        python_ids = {uid for uid, n in manifest["nodes"].items()
                      if n["resource_type"] == "model" and n["package_name"] == project and n["language"] == "python"}
        python_tests = sorted(uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"
                              and python_ids & set(node["depends_on"]["nodes"]))
        unrendered = [uid for uid in python_tests if uid not in compiled]
        verdict(bool(python_tests) and not unrendered,
                f"every data test of the Python models renders ({len(python_tests)} tests)", unrendered)
        missing = [m for m in sql_models if m not in compiled]
        verdict(not missing, f"every SQL model renders ({len(sql_models)} models; Python models not compiled: {', '.join(python_models)})", missing)
        kinds = {}
        for uid in compiled:
            kinds[uid.split(".")[0]] = kinds.get(uid.split(".")[0], 0) + 1
        print("         rendered " + ", ".join(f"{count} {kind}s" for kind, count in sorted(kinds.items())))
        verdict(not (problems := reference_problems(manifest, compiled)), f"refs and sources resolve in the compiled SQL ({mode})", problems)
        for uid, sql in compiled.items():
            statements[f"{mode}: {uid}"] = sql

    if "full_refresh" in manifests:
        print("Dataset names on target 'prod'")
        problems, report = resolution_problems(manifests["full_refresh"])
        for line in report:
            print(f"         {line}")
        verdict(not problems, "sources read nba_analytics / nba_raw; outputs write nba_precompute / nba_predictions", problems)
        problems = table_option_problems(manifests["full_refresh"])
        verdict(not problems, "persisted descriptions and cluster_by fit BigQuery's limits", problems)

    if "full_refresh" in manifests:
        print("Unit-test fixtures written as SQL (format: sql) run as BigQuery SQL on a BigQuery target")
        fixtures, exempt = unit_test_fixtures(manifests["full_refresh"])
        if exempt:
            print(f"         tagged {DUCKDB_ONLY_TAG} (not run on BigQuery): {', '.join(exempt)}")
        for label, sql in fixtures.items():
            statements[label] = sql
        print(f"         {len(fixtures)} SQL fixtures added to the parse below")

    if "date" in manifests:
        print("Render dbt-bigquery's CREATE TABLE and the project's MERGE for each incremental SQL model")
        try:
            rendered = render_incremental_sql(manifests["date"], work_dir)
            statements.update({f"date: {label}": sql for label, sql in rendered.items()})
            merges = {label: sql for label, sql in rendered.items() if label.startswith("merge")}
            creates = {label: sql for label, sql in rendered.items() if label.startswith("create")}
            verdict(all("partition by" in sql and "cluster by" in sql for sql in creates.values()),
                    f"CREATE TABLE is partitioned and clustered ({', '.join(creates)})")
            verdict(all("when not matched by source" in sql for sql in merges.values()),
                    f"MERGE is the hash-skipping merge with stale-row delete ({', '.join(merges)})")
            (work_dir / "rendered_incremental.sql").write_text("\n;\n\n".join(f"-- {k}\n{v}" for k, v in rendered.items()))
        except RuntimeError as error:
            verdict(False, "render CREATE TABLE / MERGE", str(error).splitlines())

    unique: dict[str, tuple[str, str]] = {}
    for label, sql in statements.items():
        unique.setdefault(hashlib.sha1(sql.encode()).hexdigest(), (label, sql))
    print(f"Parse {len(statements)} rendered statements ({len(unique)} distinct) as BigQuery SQL (sqlfluff, dialect bigquery)")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(_check_one, unique.values(), chunksize=4))
    bad = [(label, problems) for label, problems in results if problems]
    grouped: dict[str, list[str]] = {}
    for label, problems in bad:
        for problem in problems:
            grouped.setdefault(re.sub(r" at L\d+(:\d+)?", "", problem), []).append(label)
    details = []
    for problem, labels in sorted(grouped.items(), key=lambda item: -len(item[1])):
        where = sorted(set(labels))
        details.append(f"{problem}: {len(labels)}x in {len(where)} statement(s): {', '.join(where[:4])}"
                       + (" ..." if len(where) > 4 else ""))
    if bad:
        (work_dir / "problems.txt").write_text(
            "\n".join(f"{label}: {p}" for label, problems in bad for p in problems) + "\n")
        details.append(f"every problem with its line: {work_dir / 'problems.txt'}")
    verdict(not bad, f"{len(unique)} distinct statements parse as BigQuery SQL with BigQuery types and functions", details)

    print(f"Work files: {work_dir} ({time.time() - started:.0f} s)")
    print(f"bigquery_check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
