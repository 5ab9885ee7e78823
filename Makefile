# Two commands from a fresh clone:
#   make run    -> installs into .venv and runs the server (latticework up)
#   make test   -> installs into .venv (with test extras), type-checks src/ (mypy) and runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test typecheck install install-test bench stubs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

run: install
	$(BIN)/latticework up $(ARGS)

test: install-test typecheck
	$(BIN)/python -m pytest -n 2 $(ARGS)

# mypy over src/, configured in pyproject.toml ([tool.mypy]); any error fails the target.
typecheck: install-test
	$(BIN)/python -m mypy

bench: install-test
	$(BIN)/python bench/api_throughput.py $(ARGS)

stubs: install
	$(BIN)/python -m latticework.tools.genstubs --write

clean:
	rm -rf $(VENV) build src/*.egg-info
