# derm-rcm: `make run` and `make test` are the two commands (see README.md).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench clean db native

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[native]'
	touch $@

$(TEST_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[native,test,server]'
	touch $(STAMP) $@

# The HL7 ingest's hot path compiled with mypyc (integration/native.py), again whenever one of
# its sources changed; if it can't be (no C compiler), the same modules run as Python.
native: $(STAMP)
	$(PY) -m integration.native ensure

run: $(STAMP) native
	$(VENV)/bin/dermrcm run

db: $(STAMP)
	$(VENV)/bin/dermrcm db upgrade

test: $(TEST_STAMP) native
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/dermrcm mappings check

bench: $(TEST_STAMP) native
	$(PY) bench/launch_to_evidence.py
	$(PY) bench/feed_chart.py
	$(PY) bench/hl7_parse.py
	$(PY) bench/mllp_server.py
	$(PY) bench/hl7_ingest.py
	$(PY) bench/pa_packet.py
	$(PY) bench/x12_read.py
	$(PY) bench/scrub.py
	$(PY) bench/appeal_draft.py

clean:
	rm -f integration/_native__mypyc.*.so integration/*/*.cpython-*.so
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
