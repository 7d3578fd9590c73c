# gridsim — the two commands: `make run` and `make test`.
# Both create .venv with python3 (3.11) and install the project when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: run demo test test-full test-reliability bench bench-app clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.run-installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# the web app on http://127.0.0.1:8050 with a live replay of a bundled storm (see docs/app.md)
run: $(VENV)/.run-installed
	$(BIN)/python app.py

# the command-line demo (what `make run` did before the web app)
demo: $(VENV)/.run-installed
	$(BIN)/gridsim demo

# browser benchmark of the web app (headless Chromium; see benchmarks/bench_app.py)
bench-app: $(VENV)/.test-installed
	$(BIN)/python benchmarks/bench_app.py

test: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not full and not reliability_heavy"

# the heavy reliability checks (tests/reliability/README.md): fuzzing of every input with >= 2,000 cases each
# (about 25 min on 2 cores), plus the fault, load and soak tests of that folder
test-reliability: $(VENV)/.test-installed
	$(BIN)/python -m pytest tests/reliability -m reliability_heavy --durations=20

# exhaustive reference checks on the big models (every single fault against pandapower)
test-full: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m full

bench: $(VENV)/.run-installed
	$(BIN)/python benchmarks/bench_impact.py

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache build *.egg-info
