# `make test` is the README's test command (and CI's); `make run` sets up and starts the app.
PYTHON ?= python3

.PHONY: run test setup setup-test lint

setup:
	$(PYTHON) -m pip install -q -r requirements.txt

run: setup
	$(PYTHON) app.py

# Debian's Chromium drives the browser tests; strace watches the server's file system calls.
setup-test:
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	@command -v chromium >/dev/null && command -v strace >/dev/null || \
		{ apt-get update -q && apt-get install -y -q --no-install-recommends chromium strace; }

lint:
	$(PYTHON) -m ruff check .

test: setup-test lint
	$(PYTHON) -m pytest -q
