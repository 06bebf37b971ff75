# Bootstrap .venv from uv.lock on a fresh machine, then run or test.
SHELL := /bin/bash
PY ?= python3.11
UV_VERSION := 0.13.8
VENV := .venv
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(VENV)-tools/bin/uv
endif
# The mirror (OBSERVATORY_MIRROR, default ../shared/mirror when present, then offline) is resolved
# by pipelines/config.py for `make run` and `.venv/bin/observatory run` alike: one rule, not two.
export DAGSTER_HOME ?= $(abspath warehouse/dagster)
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: venv run test lint ui bench clean-venv postgres

$(VENV)-tools/bin/uv:
	$(PY) -m venv $(VENV)-tools
	PIP_ROOT_USER_ACTION=ignore $(VENV)-tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	@echo "installing the locked packages into $(VENV) (uv sync --frozen --quiet)"
	@$(UV) sync --frozen --quiet --python $(PY)
	@touch $@

venv: $(VENV)/.synced

run: venv
	@mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	$(VENV)/bin/observatory run

# PostgreSQL server binaries for tests/integration/test_postgres.py (Debian package), installed only when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }

test: venv postgres
	@mkdir -p $(DAGSTER_HOME)
	$(VENV)/bin/ruff check pipelines tests benchmarks
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check pipelines tests benchmarks
	$(VENV)/bin/ruff format --check pipelines tests benchmarks

# Dagster 1.13 supersedes `dagster dev` with `dg dev` (the project is declared in pyproject.toml [tool.dg]).
UI_PORT ?= 3000
UI_HOST ?= 127.0.0.1
ui: venv
	@mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/dg dev --port $(UI_PORT) --host $(UI_HOST)

bench: venv
	$(VENV)/bin/python -m benchmarks.run $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV) $(VENV)-tools
