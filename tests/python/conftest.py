"""Shared fixtures: the generated demo slice (once per session) and fresh dbt projects on it."""
from __future__ import annotations

import pytest

from dbt_harness import DbtProject, generate_demo


@pytest.fixture(scope="session")
def demo_source_db(tmp_path_factory):
    """The demo slice of Phase 3 data, generated once; tests copy it, never modify it."""
    return generate_demo(tmp_path_factory.mktemp("demo_source") / "demo.duckdb")


@pytest.fixture
def project(tmp_path, demo_source_db):
    """A dbt project on a private copy of the demo data (nothing built yet)."""
    return DbtProject(tmp_path, demo_source_db)
