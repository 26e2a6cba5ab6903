"""The vars' one declaration (dbt_project.yml: defaults in `vars`, types in `var_types`) covers every
var the project reads, and SQL reads them through typed_var() (tests/python/integration/test_vars.py
runs the checks)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]


def project_vars() -> tuple[dict, dict]:
    config = yaml.safe_load((REPO / "dbt_project.yml").read_text())
    declared = dict(config["vars"])
    types = declared.pop("var_types")
    return declared, types


VAR_READ = re.compile(r"""\b(typed_var|var)\(\s*['"](\w+)['"]""")


def var_reads() -> dict[str, set]:
    """{var: {files reading it}} over the project's SQL, YAML and macro files."""
    reads: dict[str, set] = {}
    for folder in ("models", "macros", "tests/generic", "seeds", "analyses"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".sql", ".yml", ".yaml", ".py") and path.is_file():
                for _, name in VAR_READ.findall(path.read_text()):
                    reads.setdefault(name, set()).add(str(path.relative_to(REPO)))
    reads.pop("name", None)  # typed_var's own `var(name, ...)`
    reads.pop("var_types", None)  # the declaration itself
    return reads


def test_every_var_has_one_default_and_one_type():
    declared, types = project_vars()
    assert list(declared) == list(types), "vars and var_types must list the same vars in the same order"


def test_every_var_the_project_reads_is_declared():
    _, types = project_vars()
    undeclared = {name: files for name, files in var_reads().items() if name not in types}
    assert not undeclared, f"read but not declared in dbt_project.yml (vars and var_types): {undeclared}"


def test_sql_and_macros_read_vars_through_typed_var():
    """YAML config can only call var(); every SQL file and macro reads through the checked accessor."""
    plain = re.compile(r"""(?<![\w.])var\(\s*['"](\w+)['"]""")
    offenders = []
    for folder in ("models", "macros", "tests/generic"):
        for path in (REPO / folder).rglob("*.sql"):
            offenders += [f"{path.relative_to(REPO)}: var('{name}')" for name in plain.findall(path.read_text())
                          if name != "var_types"]  # the declaration itself
    assert not offenders, offenders
