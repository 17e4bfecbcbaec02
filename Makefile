# The two commands a newcomer needs: `make run` and `make test`. Each sets up
# the virtual environment itself on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
CHAOS_ARGS ?=

.PHONY: run test venv gen gen-check proto-lint proto-breaking lint typecheck unit integration e2e chaos chaos-long browser bench bench-open check clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

run: venv
	$(BIN)/paymesh dev

test: venv lint typecheck gen-check proto-lint proto-breaking
	@bash scripts/ensure_chromium.sh || echo "make test: no Chromium; the browser tests will fail"
	@bash scripts/ensure_promtool.sh || echo "make test: no promtool; the alert-rule tests will fail"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

gen: venv
	$(BIN)/python scripts/gen_protos.py

gen-check: venv
	bash scripts/check_gen_fresh.sh

proto-lint: venv
	bash scripts/buf_check.sh lint

proto-breaking: venv
	bash scripts/buf_check.sh breaking

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy mesh payment_svc/domain payment_svc/service_layer wallet_svc/domain wallet_svc/service_layer ledger_svc/domain ledger_svc/service_layer

unit: venv
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

integration: venv
	$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

e2e: venv
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

# The short form (a fixed seed, a few kills) is part of `make test`; the long one prints its
# seed first, so a failure can be run again: make chaos-long CHAOS_ARGS='--seed 1234'.
chaos: venv
	$(BIN)/python -m pytest -m chaos $(PYTEST_ARGS)

chaos-long: venv
	$(BIN)/paymesh chaos --checkouts 2000 --kills 30 $(CHAOS_ARGS)

browser: venv
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

bench: venv
	$(BIN)/paymesh bench --checkouts 2000 --orders-per-checkout 2 --baseline

bench-open: venv
	$(BIN)/paymesh bench --rate 100 --duration 60 --orders-per-checkout 2 --baseline

check: venv
	$(BIN)/paymesh check

clean:
	rm -rf $(VENV) .paymesh .pytest_cache .mypy_cache .ruff_cache
