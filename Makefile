# gridsim — the two commands: `make run` and `make test`.
# Both create .venv with python3 (3.11) and install the project when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: run test test-full bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.run-installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.run-installed
	$(BIN)/gridsim demo

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not full"

# exhaustive reference checks on the big models (every single fault against pandapower)
test-full: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m full

bench: $(VENV)/.run-installed
	$(BIN)/python benchmarks/bench_impact.py

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache build *.egg-info
