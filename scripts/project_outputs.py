"""The project's output tables as dbt's manifest describes them.

Scripts and tests that read, count or compare the outputs take them from here, never from a list
written by hand: an output is an incremental model of this project with a `window_column` (the date
its rows belong to), its key is the model's `unique_key`, its schema the one dbt resolved for the
target, and its write timestamp `updated_at` where the model declares one, else `processed_at`.
A new or versioned output is picked up as soon as dbt parses it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Output:
    name: str  # the relation's name (a model's alias, e.g. a version's relation)
    schema: str
    window_column: str
    key: tuple[str, ...]
    written_at: str
    language: str  # sql or python
    unique_id: str


def read_manifest(target_dir: Path) -> dict:
    """target/manifest.json as dbt wrote it (any command that parses writes it)."""
    path = Path(target_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run a dbt command (dbt parse) with this target path first")
    return json.loads(path.read_text())


def outputs(manifest: dict, upstream_of: str | None = None) -> dict[str, Output]:
    """{relation name: Output} of every output, in dbt's order of the graph (parents first); with
    `upstream_of` (a model name), only that model and the outputs it reads, directly or not."""
    project = manifest["metadata"]["project_name"]
    nodes = manifest["nodes"]
    wanted = None
    if upstream_of is not None:
        start = [uid for uid, node in nodes.items() if node["resource_type"] == "model" and node["name"] == upstream_of]
        if not start:
            raise KeyError(f"no model named {upstream_of} in the manifest")
        wanted = set(start) | ancestors(nodes, start)
    found, depths = {}, {}
    for uid in sorted(nodes, key=lambda uid: (depth(nodes, uid, depths), uid)):
        node = nodes[uid]
        config = node["config"]
        if (node["resource_type"] != "model" or node["package_name"] != project
                or config.get("materialized") != "incremental" or not config.get("window_column")
                or (wanted is not None and uid not in wanted)):
            continue
        key = config["unique_key"]
        name = node.get("alias") or node["name"]
        found[name] = Output(
            name=name, schema=node["schema"], window_column=config["window_column"],
            key=tuple([key] if isinstance(key, str) else key),
            written_at="updated_at" if "updated_at" in node["columns"] else "processed_at",
            language=node["language"], unique_id=uid)
    return found


def ancestors(nodes: dict, uids) -> set[str]:
    """Every node the given nodes read, directly or through others."""
    seen, queue = set(), list(uids)
    while queue:
        for parent in nodes[queue.pop()]["depends_on"].get("nodes", []):
            if parent in nodes and parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return seen


def reads_python_model(manifest: dict, output: Output) -> bool:
    """Whether the output is, or reads, a Python model (built on Dataproc on BigQuery)."""
    nodes = manifest["nodes"]
    return any(nodes[uid].get("language") == "python" for uid in ancestors(nodes, [output.unique_id]) | {output.unique_id})


def depth(nodes: dict, uid: str, _seen: dict | None = None) -> int:
    """The longest path from a source to the node: parents sort before their children."""
    seen = {} if _seen is None else _seen
    if uid not in seen:
        parents = [p for p in nodes[uid]["depends_on"].get("nodes", []) if p in nodes]
        seen[uid] = 1 + max((depth(nodes, p, seen) for p in parents), default=0)
    return seen[uid]
