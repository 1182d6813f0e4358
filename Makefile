# Every target bootstraps .venv itself, so a fresh clone needs nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ESCPOS_CAPABILITIES_PICKLE_DIR := $(CURDIR)/$(VENV)/escpos-cache

.PHONY: install demo test test-fast check bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	mkdir -p $(ESCPOS_CAPABILITIES_PICKLE_DIR)
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/posbridge serve

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

check: $(STAMP)
	$(BIN)/ruff check posbridge drivers tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
