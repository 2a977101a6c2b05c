# Profiling Workbench. `make run` opens the GUI on the demo target; `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# A Python >= 3.12: PATH first, then pyenv's versions (3.12 first: the version the suite is
# tested on, then newer). 3.11 is refused: PySide6 6.12 leaks references to None there and
# aborts after ~5k paints.
define find_python
ok() { "$$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }; \
for c in python3.12 python3.13 python3.14 python3; do \
  p=$$(command -v $$c 2>/dev/null) || continue; \
  ok $$p && { echo $$p; exit 0; }; \
done; \
root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
for p in $$(ls -d $$root/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V); do \
  ok $$p && { echo $$p; exit 0; }; \
done; exit 1
endef

.PHONY: install run test lint typecheck importlint pytest bench fuzz dist dist-check clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@PYTHON=$$( $(find_python) ) || { echo "error: no Python >= 3.12 found on PATH or in pyenv; install python3.12 (apt-get install python3.12 or pyenv install 3.12)" >&2; exit 1; }; \
	echo "using $$PYTHON"; \
	[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' || { rm -rf $(VENV); $$PYTHON -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

run: install
	$(VENV)/bin/workbench --demo

lint: install
	$(VENV)/bin/ruff check workbench plugins tests benchmarks
	$(VENV)/bin/ruff format --check workbench plugins tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

importlint: install
	$(VENV)/bin/lint-imports

pytest: install
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# CI (CI=true, set by the CI runner) also builds the installers and self-tests them.
test: lint typecheck importlint pytest $(if $(filter true 1,$(CI)),dist-check)

bench: install
	$(PY) benchmarks/run_all.py

fuzz: install
	$(PY) tests/fuzz/run.py

dist: install
	$(PY) packaging/build.py

dist-check: dist
	$(PY) packaging/check_dist.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .pytest_cache .ruff_cache
