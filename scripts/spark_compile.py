"""Render the Dataproc scripts dbt-bigquery would submit for the Python models (offline).

    .venv/bin/python scripts/spark_compile.py --out DIR --vars '{date: 2021-12-01}' [--select relation ...]

For each Python model (every version of a versioned one: the project's Python models as dbt's manifest
lists them, named by their relation) and each of its two runs - the first build (the table does not exist) and an
incremental run (it does) - this writes `<model>.<run>.py`: exactly the text dbt-bigquery's
`py_write_table` macro renders for `submission_method: serverless` on the `prod` target of
tests/bigquery/profiles.yml.template, i.e. the model file, dbt's generated `dbtObj` / `ref` /
`source` / `this` / `config`, `dbt = dbtObj(spark.read.format("bigquery").load)`, the call of
`model(dbt, spark)`, the pandas -> pandas-on-Spark -> Spark DataFrame conversion and the
`df.write.format("bigquery")...save(...)` into the target table (first build) or dbt's
`__dbt_tmp` table (incremental run, which dbt then MERGEs). `described.json` names each model's
relations and the tables it reads, parents first.

dbt compiles a Python model only with `dbt.is_incremental` decided, which asks BigQuery whether the
table exists. Offline that question is answered here: dbt runs in this process with the BigQuery
adapter's `get_relation` replaced by "the model's table does not exist" (first build) or "it exists
as a table" (incremental run). Nothing else of dbt or dbt-bigquery is changed; the script makes no
network call (dummy token, `--no-populate-cache --no-introspect`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from project_outputs import outputs

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROFILES_TEMPLATE = PROJECT_DIR / "tests" / "bigquery" / "profiles.yml.template"
PLACEHOLDER = "#@@COMPILED_CODE@@"
RUNS = ("first_build", "incremental")
SEPARATOR = "\n#@@NEXT_MODEL@@\n"


def _patch_relation_lookup(existing: set[str]) -> None:
    """BigQueryAdapter.get_relation answers from `existing` (identifiers that exist as tables)."""
    from dbt.adapters.bigquery.impl import BigQueryAdapter

    def get_relation(self, database, schema, identifier):
        if identifier in existing:
            return self.Relation.create(database=database, schema=schema, identifier=identifier, type="table")
        return None

    BigQueryAdapter.get_relation = get_relation


_MANIFEST = {}


def _parse(given_vars: list[str]):
    """The project's manifest, parsed once in this process (later commands reuse it)."""
    from dbt.cli.main import dbtRunner

    if "manifest" not in _MANIFEST:
        parsed = dbtRunner().invoke(["parse", "--target", "prod", "--quiet", *given_vars])
        if not parsed.success:
            raise RuntimeError(f"dbt parse failed: {parsed.exception}")
        _MANIFEST["manifest"] = parsed.result
    return _MANIFEST["manifest"]


def refs_of(script: str) -> dict[str, str]:
    """{ref as the model wrote it (`name` or `name.v1`): prod relation} from a compiled script."""
    match = re.search(r"refs = (\{.*\})", script)
    if not match:
        raise RuntimeError("compiled script has no refs mapping")
    return json.loads(match.group(1))


def _invoke(args: list[str]):
    """dbt in this process; the project is parsed once and the manifest reused by later commands."""
    from dbt.cli.main import dbtRunner

    flags = ["--target", "prod", "--no-populate-cache", "--no-introspect", "--quiet"]
    manifest = _parse(args[args.index("--vars"):args.index("--vars") + 2] if "--vars" in args else [])
    result = dbtRunner(manifest=manifest).invoke([*args, *flags])
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args[:3])} failed: {result.exception}")
    return result.result


def _write_table_inline(node: dict, temporary: bool) -> str:
    """Inline Jinja: dbt-bigquery's py_write_table for the model's config and its target (or tmp) relation."""
    config = node["config"]
    keep = {key: config.get(key) for key in ("partition_by", "cluster_by") if config.get(key) is not None}
    config_args = ", ".join(f"{key}={json.dumps(value)}" for key, value in keep.items())
    config_args = config_args.replace("true", "True").replace("false", "False").replace("null", "None")
    relation = (f"api.Relation.create(database={node['database']!r}, schema={node['schema']!r},"
                f" identifier={node['alias']!r}, type='table')")
    if temporary:
        relation = f"make_temp_relation({relation})"
    return (
        f"{{{{ config({config_args}) }}}}\n"
        "{%- if execute -%}\n"
        f"{{%- set relation = {relation} -%}}\n"
        "{{ py_write_table(compiled_code='" + PLACEHOLDER + "',"
        " target_relation=relation.quote(database=False, schema=False, identifier=False)) }}\n"
        "-- relation: {{ relation }}\n"
        "{%- endif -%}\n"
    )


def python_models(dbt_vars: str = "") -> dict[str, str]:
    """{relation: model name} of the project's Python models, parents first (a versioned model gives
    one entry per version: its relation), from the manifest dbt parses."""
    manifest = _parse(["--vars", dbt_vars] if dbt_vars else []).writable_manifest().to_dict()
    return {output.name: manifest["nodes"][output.unique_id]["name"]
            for output in outputs(manifest).values() if output.language == "python"}


def compile_scripts(out: Path, dbt_vars: str, models: tuple[str, ...] | None = None) -> dict:
    """Write `<relation>.<run>.py` and `described.json` into `out` for the Python models (`models`:
    relations; default every one); return {relation: description}, parents first."""
    out.mkdir(parents=True, exist_ok=True)
    extra = ["--vars", dbt_vars] if dbt_vars else []
    every = python_models(dbt_vars)
    models = tuple(models or every)
    unknown = [m for m in models if m not in every]
    if unknown:
        raise ValueError(f"not a Python model's relation: {unknown} (the project's: {sorted(every)})")
    described = {}
    for run in RUNS:
        existing = set(models) if run == "incremental" else set()
        _patch_relation_lookup(existing)
        compiled = _invoke(["compile", "--select", *sorted({every[m] for m in models}), *extra])
        nodes = {r.node.alias: r.node for r in compiled.results if r.node.resource_type == "model"}
        missing = [m for m in models if m not in nodes]
        if missing:
            raise RuntimeError(f"dbt compile did not return {missing}")
        node_dicts = {name: nodes[name].to_dict() for name in models}
        inline = SEPARATOR.join(_write_table_inline(node_dicts[name], run == "incremental") for name in models)
        texts = _invoke(["compile", "--inline", inline, *extra]).results[0].node.compiled_code.split(SEPARATOR.strip())
        if len(texts) != len(models):
            raise RuntimeError(f"py_write_table rendered {len(texts)} scripts for {len(models)} models")
        for name, text in zip(models, texts):
            node = node_dicts[name]
            script, _, relation_line = text.rpartition("-- relation: ")
            if PLACEHOLDER not in script or "df.write" not in script:
                raise RuntimeError(f"unexpected py_write_table rendering for {name}:\n{text[:600]}")
            script = script.strip("\n").replace(PLACEHOLDER, node["compiled_code"]) + "\n"
            (out / f"{name}.{run}.py").write_text(script)
            entry = described.setdefault(name, {"relation": node["relation_name"], "written": {}})
            entry["written"][run] = relation_line.strip()
            # [relation identifier, prod relation] of each ref, in the model's order (the first is its input)
            entry["refs"] = [[prod.replace("`", "").split(".")[-1], prod] for prod in refs_of(script).values()]
            # the column SQL adds after the write (macro row_hash_column: data_hash for a hash_merge model)
            config = node["config"]
            entry["added_by_sql"] = ["data_hash"] if config.get("hash_merge") else (
                [config["row_hash_column"]] if config.get("row_hash_column") else [])
    (out / "described.json").write_text(json.dumps(described, indent=2))
    return described


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vars", default="")
    parser.add_argument("--select", nargs="+", help="relations of Python models (default: every one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="spark_compile_"))
    (work / "profiles").mkdir()
    shutil.copy(PROFILES_TEMPLATE, work / "profiles" / "profiles.yml")
    os.environ.update(
        DBT_PROFILES_DIR=str(work / "profiles"), DBT_TARGET_PATH=str(work / "target"),
        DBT_LOG_PATH=str(work / "logs"), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1",
        BQ_PROJECT=os.environ.get("BQ_PROJECT", "nba-props-platform"),
    )
    for key in ("DBT_TARGET", "DBT_PROFILE"):
        os.environ.pop(key, None)
    os.chdir(PROJECT_DIR)
    try:
        described = compile_scripts(args.out.resolve(), args.vars, tuple(args.select or ()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(described, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
