# The two commands a newcomer needs: `make run` and `make test`. Each sets up
# the virtual environment itself on a fresh machine, from the hashed lock in requirements/.
# The interpreter: PY if given, else the first of python3.11, 3.12, 3.13 on PATH (else python3);
# scripts/check_python.py refuses an unsupported one in one sentence before any venv is made.
PY ?= $(firstword $(foreach v,3.11 3.12 3.13,$(shell command -v python$(v) 2>/dev/null)) python3)
VENV := .venv
BIN := $(VENV)/bin
LOCK_ID := $(shell cat pyproject.toml requirements/pins.txt requirements/runtime.txt requirements/dev.txt requirements/build.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-dev-$(LOCK_ID)
RUN_STAMP := $(VENV)/.installed-run-$(LOCK_ID)
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-$(shell cat requirements/tools.txt | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# `make test` runs the test files on this many pytest-xdist workers, a file's tests together on
# one worker (its module-scoped stack is started once). Most of a whole-stack test's time is
# waiting on other processes, so two workers on two cores keep the suite under 20 minutes;
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
CHAOS_ARGS ?=

.PHONY: run test venv venv-run lock lock-check k8s-check image-check gen gen-check proto-lint proto-breaking lint typecheck unit integration e2e chaos chaos-long browser bench bench-open check clean mutate

# Everything `make test` needs (requirements/dev.txt); the lock is checked against pyproject.
$(STAMP): pyproject.toml requirements/runtime.txt requirements/dev.txt requirements/build.txt
	@bash scripts/venv.sh "$(PY)" dev
	@rm -f $(VENV)/.installed-*; touch $@ $(RUN_STAMP)

# Only what running needs (requirements/runtime.txt): `make run` on a fresh clone.
$(RUN_STAMP): pyproject.toml requirements/runtime.txt requirements/build.txt
	@bash scripts/venv.sh "$(PY)" runtime
	@rm -f $(VENV)/.installed-run-*; touch $@

venv: $(STAMP)

venv-run: $(RUN_STAMP)

# Regenerate requirements/*.txt from pyproject.toml (needs the package index), then commit them.
# Pins are kept unless `make lock UPGRADE=1`.
lock:
	@test -x $(BIN)/uv || bash scripts/venv.sh "$(PY)" dev || test -x $(BIN)/uv
	bash scripts/lock.sh

lock-check: venv
	$(BIN)/python scripts/check_lock.py

# checkov pins dozens of packages exactly: it lives in its own venv, from its own lock.
$(TOOLS_STAMP): requirements/tools.txt
	@test -x $(TOOLS)/bin/python || $(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --require-hashes -r requirements/tools.txt
	@rm -f $(TOOLS)/.installed-*; touch $@

# Renders k8s/ overlays offline and validates them (schemas, checkov); see scripts/check_k8s.sh.
k8s-check: venv $(TOOLS_STAMP)
	bash scripts/check_k8s.sh

# What can be checked of the image without a Docker engine; see scripts/check_image.sh.
image-check: venv
	bash scripts/check_image.sh

# make run REPLICAS=payment_svc=2,wallet_svc=2,ledger_svc=2: several processes of a service
# (then `make bench` measures the stack with them).
run: venv-run
	$(BIN)/paymesh dev $(if $(REPLICAS),--replicas $(REPLICAS))

test: venv lock-check lint typecheck gen-check proto-lint proto-breaking k8s-check
	@bash scripts/ensure_chromium.sh || echo "make test: no Chromium; the browser tests will fail"
	@bash scripts/ensure_promtool.sh || echo "make test: no promtool; the alert-rule tests will fail"
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0 --durations=25 $(PYTEST_ARGS)

gen: venv
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/write_openapi.py

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
	$(BIN)/hadolint Dockerfile

typecheck: venv
	$(BIN)/mypy mesh payment_svc/domain payment_svc/service_layer wallet_svc/domain wallet_svc/service_layer ledger_svc/domain ledger_svc/service_layer notify_svc/domain notify_svc/service_layer recon_svc/domain recon_svc/service_layer payout_svc/domain payout_svc/service_layer

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

# Outages of minutes (issue 12): each victim in turn kept down OUTAGE (10 minutes) in the middle
# of a run; each run prints its backlog, drain time, dead letters and alerts. About 15 minutes
# per victim: make chaos-outage OUTAGE=3m OUTAGE_VICTIMS='postgres psp_sandbox'.
OUTAGE ?= 10m
OUTAGE_VICTIMS ?= postgres psp_sandbox nats payment_svc
.PHONY: chaos-outage
chaos-outage: venv
	set -e; for victim in $(OUTAGE_VICTIMS); do \
	  $(BIN)/paymesh chaos --checkouts 60 --kills 1 --victims $$victim --outage $(OUTAGE) $(CHAOS_ARGS); \
	done

# The schemathesis suite alone (part of `make test` too): prints its figures.
.PHONY: fuzz
fuzz: venv
	FUZZ_EXAMPLES=75 FUZZ_SCENARIOS=15 $(BIN)/python -m pytest -s tests/e2e/test_fuzz_api.py $(PYTEST_ARGS)

browser: venv
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

bench: venv
	$(BIN)/paymesh bench --checkouts 2000 --orders-per-checkout 2 --baseline

bench-open: venv
	$(BIN)/paymesh bench --rate 100 --duration 60 --orders-per-checkout 2 --baseline

check: venv
	$(BIN)/paymesh check

# Mutation testing of the money rules and exactly-once mechanics ([tool.mutmut] in pyproject.toml)
# against the unit tests; writes the score per module into docs/mutation-testing.md. Long (tens of
# minutes), so not part of `make test`. One worker: MUTATE_CHILDREN=2 to use more cores;
# MUTANTS='mesh.money*' to run some only. It continues where a stopped run left off (mutants/).
MUTANTS ?=
mutate: venv
	$(BIN)/python scripts/mutation_report.py $(MUTANTS)

clean:
	rm -rf $(VENV) $(TOOLS) .paymesh .pytest_cache .mypy_cache .ruff_cache mutants
