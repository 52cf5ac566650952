# The two commands a new user needs: `make demo` and `make test`. Both set up what they need.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock

.PHONY: demo test lint bench i18n setup lock clean docs

setup: $(STAMP)

# The exact versions CI tested, hash-checked, then the project itself without resolving anything.
# Re-runs when pyproject.toml or the lock changes.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "studyhall needs Python 3.11 or newer"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (runtime + dev), keeping the current pins where
# the ranges still allow them. Upgrade everything: make lock LOCK_ARGS=--upgrade; one package:
# make lock LOCK_ARGS='--upgrade-package numpy'. requirements-runtime.lock is its runtime part
# (same pins, no dev tools) for installs that only run studyhall, such as a container.
# See docs/development/dependencies.md.
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' --quiet

lock: $(STAMP)
	$(UV_COMPILE) --extra dev $(LOCK_ARGS) -o $(LOCK)
	$(UV_COMPILE) --constraint $(LOCK) -o requirements-runtime.lock

demo: $(STAMP)
	$(BIN)/studyhall demo

# Tests run on SQLite; with STUDYHALL_TEST_PG set (a postgresql+asyncpg URL) on PostgreSQL too.
# Test peers installed with npm (the Telegram Bot API emulator).
PEERS := tests/peers/telegram/node_modules/.package-lock.json

$(PEERS): tests/peers/telegram/package-lock.json
	npm ci --prefix tests/peers/telegram --no-audit --no-fund --loglevel=error

# Browser tests drive Debian's Chromium: Playwright's own browser download is not reachable here.
# A file target, so it installs once and is skipped while the binary exists. The CJK fonts let
# pages and the docs' screenshots show Chinese as Chinese rather than empty boxes.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "browser tests need $@: run as root, or: sudo apt-get install -y --no-install-recommends chromium fonts-noto-cjk" >&2; exit 1; fi
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-noto-cjk
	@test -x $@ || { echo "apt-get installed chromium but $@ is still missing" >&2; exit 1; }

test: $(STAMP) $(PEERS) $(CHROMIUM)
	@if [ -n "$$STUDYHALL_TEST_PG" ]; then scripts/ensure_postgres.sh; fi
	$(BIN)/ruff check .
	$(BIN)/hadolint --no-color Dockerfile
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) --no-print-directory docs

# The documentation site (mkdocs.yml, docs/): built strictly, so a broken link or a page left out
# of the nav fails (not --quiet: it hides the warnings --strict counts); into a throwaway folder (`.venv/bin/mkdocs serve` to read it).
docs: $(STAMP)
	@site=$$(mktemp -d) && trap 'rm -rf "$$site"' EXIT && \
		NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir "$$site"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint --no-color Dockerfile

bench: $(STAMP)
	$(BIN)/python -m bench

# Extract messages, merge them into each catalog, compile .mo files (optional at run time).
i18n: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-default-keywords -k msg -k nmsg:1,2 --no-wrap \
		--project=studyhall --copyright-holder="studyhall contributors" -o locales/messages.pot .
	$(BIN)/pybabel -q update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --no-wrap
	$(BIN)/pybabel -q compile -d locales -D messages --statistics

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
