# Two entry points: `make run` (install, index if needed, serve on 127.0.0.1:7860) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast lint install index browser eval loadtest bench docs clean

run: install index
	$(PY) -m cli serve

# Lint and type checks first (seconds), then every test: fast, slow (real models) and browser.
test: install lint index browser
	$(PY) -m pytest

# The quick loop while editing: no real models, no browser.
test-fast: install lint
	$(PY) -m pytest -m "not slow and not browser"

# ruff (lint + format check) and mypy over the project; `ruff format .` fixes the formatting.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change. torch is pinned and installed first so pip
# takes the local CPU wheel instead of downloading a CUDA build.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,lint,scale]"
	touch $(STAMP)

# Builds the index only when it is missing or the corpus changed (fast no-op otherwise).
index: install
	$(PY) -m cli index --if-needed

# Debian's Chromium for the browser tests (Playwright's own browser download does not work here).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

eval: install index
	$(PY) -m eval

loadtest: install index
	$(PY) bench/loadtest.py

# The README's score table and screenshot, regenerated: the eval over both gold files, then the page answering
# a question in Chromium (docs/make_docs.py). Commit README.md and docs/images/answer.png afterwards.
docs: install index browser
	$(PY) docs/make_docs.py

clean:
	rm -rf index .index.tmp-* .index.old eval/report
