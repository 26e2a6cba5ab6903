# NBA Phase 4 precompute (dbt). Two commands matter: `make demo` and `make test` (see README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR ?= $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

# Demo / CI data: the first six weeks of 2021-22; the demo predicts the next slate (DEMO_DATE).
# One database: DB and DBT_DUCKDB_PATH agree both ways (DB defaults to DBT_DUCKDB_PATH when that is set).
DB ?= $(if $(DBT_DUCKDB_PATH),$(DBT_DUCKDB_PATH),data/nba.duckdb)
SEASONS ?= 1
UNTIL ?= 2021-12-01
SEED ?= 42
DEMO_DATE ?= 2021-12-01
export DBT_DUCKDB_PATH := $(DB)

# The test suite's demo, generated and built once by `dbt-test` into CI_DEMO: source.duckdb (the
# generated data), nba.duckdb (after the build with every data and unit test), build.log and target/
# (that build's output and artifacts). `make test` and `make check` build it first and hand it to every
# later step through the environment variable CI_DEMO_DIR; each step copies what it reads. A step run
# on its own, without CI_DEMO_DIR, builds its own (make browser-check: `make dbt-test`; pytest and the
# emulator run: their own build of the same demo).
CI_DEMO := target/ci_demo

.PHONY: help setup data demo test check pytest-check checks-bigquery checks-project pytest dbt-test lint bigquery-check test-bigquery test-differential docs docs-serve daily backfill training-set evaluate bench report browser-check chromium clean java inline-helpers

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# uv installs the toolchain (the same ranges, from PyPI as pip would) out of its own cache
# (~/.cache/uv): about 10 s on a clean clone, where pip takes minutes to unpack the same wheels.
# --compile-bytecode: uv, unlike pip, writes no .pyc, and where PYTHONDONTWRITEBYTECODE is set (as on
# these machines) Python never caches them either: every dbt process then compiled dbt's sources again
# (about 5 CPU-seconds of each start; the test suite starts some hundred Python processes).
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.txt
	touch $@

profiles.yml: profiles.yml.example
	cp profiles.yml.example profiles.yml

setup: $(BIN)/.installed profiles.yml  ## Create .venv with the pinned toolchain and profiles.yml.

data: setup  ## Generate Phase 3 data: make data SEASONS=4 UNTIL= DB=data/full.duckdb
	@mkdir -p $(dir $(DB))
	$(BIN)/python -m nba_phase3_gen --db $(DB) --seasons $(SEASONS) --seed $(SEED) $(if $(UNTIL),--until $(UNTIL))

demo: data  ## Set up, load the demo data, build ml_feature_store_v2 and its upstream for DEMO_DATE.
	$(DBT) seed --quiet
	$(DBT) build --select +ml_feature_store_v2 --vars '{date: $(DEMO_DATE)}'
	$(BIN)/python scripts/show_result.py --db $(DB) --date $(DEMO_DATE)

# The suite builds the demo first (dbt-test), then runs three groups side by side (CPU-bound, but no
# group alone keeps both cores busy); each group's output is printed in one piece when it ends. They
# share no files: they copy the demo, pytest works in temporary directories, the BigQuery checks under
# their --work-dir, and only the project group uses target/. The Debian packages are installed first.
test: setup java chromium  ## The whole suite: dbt build of the demo with every data and unit test, then side by side: pytest | BigQuery render check, emulator run | sqlfluff, browser check.
	@echo "make test: the demo's dbt build, then side by side: [pytest] [bigquery-check, test-bigquery] [lint, browser-check]; each group is printed when it ends (measured times: docs/testing.md)"
	@$(MAKE) --no-print-directory dbt-test
	@$(MAKE) --no-print-directory -j3 --output-sync=recurse pytest checks-bigquery checks-project CI_DEMO_DIR=$(abspath $(CI_DEMO))

# The fast tier for the edit loop: the same dbt build, lint and offline BigQuery render as make test,
# the unit tests and one case of each integration family (pytest marker `check`), on the same demo.
check: setup profiles.yml  ## Fast tier (a few minutes): dbt build of the demo with every test, docs check, then sqlfluff, BigQuery render, unit tests, one case of each integration family.
	@$(MAKE) --no-print-directory dbt-test
	@$(MAKE) --no-print-directory -j3 --output-sync=recurse lint bigquery-check pytest-check CI_DEMO_DIR=$(abspath $(CI_DEMO))

pytest-check: setup  ## The pytest part of make check: unit tests and the cases marked `check`.
	$(BIN)/python -m pytest tests/python -m check -n $(PYTEST_WORKERS) --dist loadfile

checks-bigquery: setup  ## The BigQuery group of make test: offline render check, then the emulator run.
	$(MAKE) --no-print-directory bigquery-check
	$(MAKE) --no-print-directory test-bigquery

checks-project: setup profiles.yml  ## The project group of make test: sqlfluff, then the browser check on the demo's build.
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory browser-check

# Two workers (pytest-xdist), a test module stays on one worker (its module fixtures are built once).
PYTEST_WORKERS ?= 2
pytest: setup  ## Python tests (generator, Python models on DuckDB, macros, reprocessing, reliability).
	$(BIN)/python -m pytest tests/python -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# dbt's artifacts go to CI_DEMO/target (kept between runs for dbt's partial parse); build.log is
# written when the build has passed.
CI_DBT := DBT_DUCKDB_PATH=$(CI_DEMO)/nba.duckdb DBT_TARGET_PATH=$(CI_DEMO)/target
dbt-test: setup  ## Generate the demo into CI_DEMO and build it (all models, data and unit tests), then the docs check.
	@rm -f $(CI_DEMO)/source.duckdb $(CI_DEMO)/nba.duckdb $(CI_DEMO)/build.log
	$(MAKE) --no-print-directory data DB=$(CI_DEMO)/source.duckdb
	cp $(CI_DEMO)/source.duckdb $(CI_DEMO)/nba.duckdb
	$(CI_DBT) $(DBT) seed --quiet
	set -o pipefail; $(CI_DBT) $(DBT) build --full-refresh --vars '{completeness_severity: warn}' | tee $(CI_DEMO)/build.log.part
	mv $(CI_DEMO)/build.log.part $(CI_DEMO)/build.log
	$(CI_DBT) $(BIN)/python scripts/check_docs.py

lint: setup profiles.yml  ## sqlfluff over every SQL model and test (rendered by dbt on an empty DuckDB file).
	@mkdir -p target
	DBT_DUCKDB_PATH=target/lint.duckdb $(BIN)/sqlfluff lint models tests --dialect duckdb

bigquery-check: setup  ## Offline: every SQL model renders for the BigQuery prod target and parses as BigQuery SQL.
	$(BIN)/python scripts/bigquery_check.py

test-bigquery: setup java  ## Local BigQuery API emulator: seed + build of every SQL model with its tests, the Python models on local Spark (first build, incremental, parity with DuckDB), duplicate-merge regression.
	$(BIN)/python scripts/bigquery_emulator.py

test-differential: setup  ## Slow differential sweep: every correction scenario for each of SEEDS seeds (50): re-run == full refresh.
	DIFFERENTIAL_ALL=1 DIFFERENTIAL_SEEDS=$(or $(SEEDS),50) $(BIN)/python -m pytest tests/python/integration/test_differential.py -k incremental_rerun -q

docs: setup profiles.yml  ## Generate the dbt docs site offline (target/static_index.html); `make docs-serve` to browse.
	@mkdir -p $(dir $(DB))
	$(DBT) docs generate --static

docs-serve: docs
	$(DBT) docs serve --port 8080

daily: setup profiles.yml  ## Nightly run for DATE: build everything for that date; its guard stops on stale sources first.
	@test -n "$(DATE)" || { echo "make daily needs DATE=YYYY-MM-DD"; exit 2; }
	$(BIN)/python scripts/daily.py --date $(DATE)

backfill: setup profiles.yml  ## Build every date of START..END in one set-based pass (completeness gates warn).
	@test -n "$(START)" -a -n "$(END)" || { echo "make backfill needs START=YYYY-MM-DD END=YYYY-MM-DD"; exit 2; }
	$(DBT) build --vars '{start_date: $(START), end_date: $(END), completeness_severity: warn}'

training-set: setup  ## Export ml_training_examples of START..END to Parquet + manifest: [VERSION=1|2] [OUT=file.parquet] [MIN_QUALITY=85] [READY_ONLY=1]
	@test -n "$(START)" -a -n "$(END)" || { echo "make training-set needs START=YYYY-MM-DD END=YYYY-MM-DD [VERSION=1|2] [OUT=file.parquet] [MIN_QUALITY=0-100] [READY_ONLY=1]"; exit 2; }
	$(BIN)/python scripts/training_set.py --db $(DBT_DUCKDB_PATH) --start $(START) --end $(END) $(if $(VERSION),--version $(VERSION)) $(if $(OUT),--out $(OUT)) $(if $(MIN_QUALITY),--min-quality $(MIN_QUALITY)) $(if $(READY_ONLY),--training-ready-only)

evaluate: setup  ## Baseline MAEs, hit rates and calibration of START..END's examples, feature versions compared on the same rows: table + self-contained HTML [VERSION=1|2] [OUT=page.html] [MIN_QUALITY=85] [READY_ONLY=1]
	@test -n "$(START)" -a -n "$(END)" || { echo "make evaluate needs START=YYYY-MM-DD END=YYYY-MM-DD [VERSION=1|2] [OUT=page.html] [MIN_QUALITY=0-100] [READY_ONLY=1]"; exit 2; }
	$(BIN)/python scripts/evaluate.py --db $(DBT_DUCKDB_PATH) --start $(START) --end $(END) $(if $(VERSION),--version $(VERSION)) $(if $(OUT),--out $(OUT)) $(if $(MIN_QUALITY),--min-quality $(MIN_QUALITY)) $(if $(READY_ONLY),--training-ready-only)

bench: setup  ## Four-season benchmark; figures in target/bench.json.
	$(BIN)/python scripts/bench.py

report: setup  ## Feature health page from DB's models: make report START=2024-10-22 END=2025-06-20 [VERSION=1|2] [DB=...] [OUT=target/feature_health.html]
	$(BIN)/python scripts/feature_health_report.py --db $(DB) $(if $(START),--start $(START)) $(if $(END),--end $(END)) $(if $(VERSION),--version $(VERSION)) --out $(or $(OUT),target/feature_health.html)

# The browser check reads a copy of the demo's build (CI_DEMO_DIR's in make test, else `make dbt-test`'s)
# and builds the report, the evaluation page and the docs page from it.
chromium:  ## Check for Chromium (the browser check needs it); install Debian's chromium when missing.
	@test -x /usr/bin/chromium || { echo "installing chromium (Debian package)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

browser-check: setup profiles.yml chromium  ## Headless Chromium opens the feature-health report, the evaluation page and the dbt docs: screenshots, fails on a JS error or a missing plot.
	$(if $(CI_DEMO_DIR),@mkdir -p target,$(MAKE) --no-print-directory dbt-test)
	cp $(or $(CI_DEMO_DIR),$(CI_DEMO))/nba.duckdb target/browser.duckdb
	$(BIN)/python scripts/feature_health_report.py --db target/browser.duckdb --out target/feature_health.html
	$(BIN)/python scripts/evaluate.py --db target/browser.duckdb --start 2021-10-19 --end 2021-12-01 --out target/evaluation.html > /dev/null
	DBT_DUCKDB_PATH=target/browser.duckdb $(DBT) docs generate --static --quiet
	$(BIN)/python scripts/browser_check.py \
	    --page target/feature_health.html --plots 4 --text "Feature health of ml_feature_store_v2" \
	    --page target/evaluation.html --plots 7 --text "same rows" \
	    --page 'target/static_index.html#!/exposure/exposure.nba_precompute.prediction_service' --plots 0 --text prediction_service \
	    --page 'target/static_index.html#!/overview' --plots 0 --text 'The flow, from sources to predictions'

# Spark (the local stand-in for Dataproc) needs Java 17: Debian's headless JRE when `java` is missing.
java:  ## Check for Java (Spark needs it); install Debian's default-jre-headless when missing.
	@command -v java >/dev/null || { echo "installing default-jre-headless (Debian package)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless; }
	@java -version 2>&1 | head -1

inline-helpers: setup  ## Copy python_models/model_io.py into every Python model (between its generated markers).
	$(BIN)/python scripts/inline_helpers.py

clean:  ## Remove build outputs and the local database (keeps .venv).
	rm -rf target logs data
