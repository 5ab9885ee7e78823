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

# The benchmark suite (bench/suite.py, bench/README.md): every section against its reference, measured in the
# same run, one table of ratios; results in bench/results/latest.json. ARGS="--quick" for a smoke run,
# ARGS="--only l7" (tls, control, propagation, scale) for one section. HAProxy, wrk and h2load come from
# Debian's packages (installed when missing and run as root), moto from the test extras.
bench: install-test
	$(BIN)/python bench/suite.py $(ARGS)

stubs: install
	$(BIN)/python -m latticework.tools.genstubs --write

clean:
	rm -rf $(VENV) build src/*.egg-info
