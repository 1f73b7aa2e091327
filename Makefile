# The whole set-up on a fresh machine: `make run` (install, migrate, seed a demo, serve) and
# `make test`. Both are idempotent. `make test-pg` runs the suite on a local PostgreSQL.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
export FLASK_APP := campaign:create_app

.PHONY: run test test-pg install catalogs migrate demo serve clean check-strings

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Exact versions from requirements.lock; reinstalled when pyproject.toml or the lock changes.
$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements.lock
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

catalogs: install
	$(BIN)/flask translate compile >/dev/null

# Development secrets are created under instance/ (mode 0600) by config.DevelopmentConfig.
migrate: catalogs
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo

serve:
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

run: demo serve

# pytest exits 5 when it collected no test: that is a failure, said plainly.
test: catalogs
	@status=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then \
		echo "make test: pytest collected no tests (exit 5): nothing was checked" >&2; \
	fi; \
	exit $$status

test-pg:
	CAMPAIGN_TEST_DATABASE_URL='$(PG_TEST_URL)' $(MAKE) test

check-strings: install
	$(BIN)/flask translate check

clean:
	rm -rf $(VENV) .pytest_cache
