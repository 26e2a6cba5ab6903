"""Copy the shared helpers of python_models/ into every Python model, between generated markers.

    .venv/bin/python scripts/inline_helpers.py          # rewrite the copies (make inline-helpers)
    .venv/bin/python scripts/inline_helpers.py --check  # exit 1 when a model's copy differs

A Python model must be self-contained: dbt-bigquery submits the model file alone to Dataproc, so it
cannot import a project module. The helpers live once, in python_models/model_io.py; each Python
model under models/ (every *.py there: found, not listed) holds a verbatim copy of everything below
that file's `# --- inlined ---` line, between the lines BEGIN and END below. Edit the source, run
`make inline-helpers`, commit both; tests/python/unit/test_model_io.py fails on a stale copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
SOURCE = PROJECT_DIR / "python_models" / "model_io.py"
CUT = "# --- inlined ---\n"
BEGIN = "# >>> shared helpers: generated from python_models/model_io.py by `make inline-helpers` (edit that file, not this copy)\n"
END = "# <<< shared helpers (python_models/model_io.py)\n"


def helper_text(source: Path = SOURCE) -> str:
    text = source.read_text()
    if text.count(CUT) != 1:
        raise ValueError(f"{source} must hold the line {CUT.strip()!r} exactly once")
    return text.split(CUT, 1)[1].strip("\n") + "\n"


def model_files(models_dir: Path = PROJECT_DIR / "models") -> list[Path]:
    return sorted(models_dir.rglob("*.py"))


def inlined(model_text: str, helpers: str, name: str = "model") -> str:
    """The model text with `helpers` between its markers (ValueError when the markers are not there once each)."""
    if model_text.count(BEGIN) != 1 or model_text.count(END) != 1 or model_text.index(BEGIN) > model_text.index(END):
        raise ValueError(f"{name}: needs the marker lines, once each, in order:\n{BEGIN}{END}")
    head, rest = model_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{helpers}\n{END}{tail}"


def stale(models_dir: Path = PROJECT_DIR / "models", source: Path = SOURCE) -> list[str]:
    """Model files whose copy differs from the source (or that lack the markers)."""
    helpers, problems = helper_text(source), []
    for path in model_files(models_dir):
        text = path.read_text()
        try:
            if inlined(text, helpers, str(path)) != text:
                problems.append(f"{path.relative_to(models_dir.parent)}: copy differs from {source.name}")
        except ValueError as error:
            problems.append(str(error).splitlines()[0])
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale copies (exit 1)")
    args = parser.parse_args()
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem)
        print(f"inline_helpers: {len(model_files())} models, {len(problems)} stale")
        return 1 if problems else 0
    helpers = helper_text()
    for path in model_files():
        text = path.read_text()
        new = inlined(text, helpers, str(path))
        if new != text:
            path.write_text(new)
            print(f"updated {path.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
