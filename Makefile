# The whole set-up: `make run` (install, migrate, serve) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := campaign:create_app

.PHONY: run test install catalogs migrate demo serve clean check-strings

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate pyproject.toml requirements.lock
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

install: $(VENV)/.installed

catalogs: install
	$(BIN)/flask translate compile >/dev/null

migrate: catalogs
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask demo

serve:
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

run: demo serve

test: catalogs
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-strings: install
	$(BIN)/flask translate check

clean:
	rm -rf $(VENV) .pytest_cache
