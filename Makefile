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

# JupyterLab on the whole repository (notebooks/, exercises/, solutions/), opening lesson 0.
# lab-settings/overrides.json switches off the Jupyter news toast and update checks; the extension
# manager stays read-only (no PyPI queries). JupyterLab refuses to run as root (e.g. in a container)
# unless told it may. LAB_EXTRA adds flags (the browser test passes a port and a token).
LAB_FLAGS := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
LAB_ARGS := --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb \
	--LabApp.app_settings_dir="$(CURDIR)/lab-settings" --LabApp.extension_manager=readonly \
	--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate --LabApp.news_url=None
lab: install
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) $(LAB_ARGS) $(LAB_EXTRA)

# Package tests and doctests, then every lesson and solution notebook under nbval, each at the preset its
# outputs were committed at (lessons laptop, solutions ci: see conftest.py). The paths are pyproject.toml's
# testpaths. No browser needed: nbval never compares the figures' static PNGs.
test: install
	$(PY) -m pytest

# Widgets in a real browser: JupyterLab driven by playwright in Debian's chromium (no browser download).
# Installs chromium with apt (as root, or through sudo) and the `browser` extra when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-browser: install
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)
	$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet -c constraints.txt -e '.[browser]'
	$(PY) -m pytest -o addopts="-p no:cacheprovider" -m browser tests/browser

# Every benchmark script: each prints a table of ours vs the reference (see benchmarks/README.md).
bench: install
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Re-execute the notebooks (lessons at the laptop preset, solutions at ci: bltlib.config.committed_preset)
# and rebuild exercises/ from solutions/. Chromium draws each figure's static PNG (bltlib/viz/render.py).
notebooks: install
	command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)
	$(PY) scripts/execute_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
