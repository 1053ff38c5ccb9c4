# The two commands of the README: `make run` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Demo only: the account the sandbox accepts, generated once per checkout (git-ignored var/).
DEMO_ACCOUNT := var/sandbox-demo.env

.PHONY: run test lint format chromium axe clean

# axe-core, from npm, checks the pages' accessibility in the browser tests (tests/e2e/axe.py).
AXE_VERSION := 4.10.3
AXE := var/axe/node_modules/axe-core/axe.min.js

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(DEMO_ACCOUNT): | $(INSTALLED)
	$(BIN)/python -m sandbox.credentials $@

# The sandbox (Procfile) reads the demo account as SANDBOX_*; `smartassessor demo` is given the
# same values the way `configure` takes secrets. Neither program imports the other.
run: $(INSTALLED) $(DEMO_ACCOUNT)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	set -a && . ./$(DEMO_ACCOUNT) && \
		SMARTASSESSOR_PASSWORD="$$SANDBOX_PASSWORD" SMARTASSESSOR_CLIENT_KEY="$$SANDBOX_CLIENT_KEY" \
		$(BIN)/python manage.py smartassessor demo --username "$$SANDBOX_USERNAME"
	$(BIN)/honcho --procfile Procfile --env .env,$(DEMO_ACCOUNT) start

# The suite in parallel (pytest-xdist): much of it waits on subprocesses, a worker, a sandbox or
# a browser, so more workers than cores pay; worksteal keeps the long ones from ending the run on
# one worker. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 3

test: $(INSTALLED) chromium axe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Browser tests drive Debian's Chromium; install it when we may (root), else they are skipped.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing and cannot be installed here: browser tests will be skipped."; \
		fi; \
	fi

# Installed when npm is here; without it the accessibility checks are skipped (failed under CI).
axe:
	@if [ ! -f $(AXE) ]; then \
		if command -v npm >/dev/null 2>&1; then \
			echo "Installing axe-core $(AXE_VERSION) for the accessibility checks"; \
			npm install --silent --no-audit --no-fund --prefix var/axe axe-core@$(AXE_VERSION) >/dev/null; \
		else \
			echo "npm is missing: the accessibility checks will be skipped."; \
		fi; \
	fi

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache
