# The course's two commands: `make lab` and `make test`. Each installs what it needs on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lab test test-browser bench lint notebooks clean

install: $(STAMP)

# Reinstall when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

lab: install
	$(VENV)/bin/jupyter lab notebooks/00_start_here.ipynb

# Package tests and doctests, then every lesson and solution notebook under nbval (the ci preset:
# see conftest.py). The paths are pyproject.toml's testpaths.
test: install
	$(PY) -m pytest

bench: install
	$(PY) benchmarks/bench_bpe.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Re-execute the notebooks (ci preset) and rebuild exercises/ from solutions/.
notebooks: install
	$(PY) scripts/execute_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
