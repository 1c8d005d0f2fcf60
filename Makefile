# Two commands on a fresh machine (Python 3.11+ and a C compiler): `make demo`, `make test`.
# uv is used from PATH when present, otherwise bootstrapped into .tools/ with pip.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
RUN := $(UV) run --frozen

# axe-core (accessibility checks of the console's browser tests), from the npm registry into
# .tools/axe (git-ignored); `make test` installs it when npm is present.
AXE_VERSION := 4.14.1
AXE := .tools/axe/node_modules/axe-core/axe.min.js
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: env demo test test-fast lint bench clean sdk-wheel axe

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv>=0.4"

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

env: $(VENV)/.synced

demo: env
	$(RUN) vinculo demo

$(AXE):
	npm install --prefix .tools/axe axe-core@$(AXE_VERSION) --no-audit --no-fund --no-save

axe: $(AXE)

# The suite runs in parallel (pytest-xdist), each test file on one worker: the files that start
# servers keep their module fixtures. `make test WORKERS=1` runs it in one process.
WORKERS ?= 2

test: env $(if $(NPM),$(AXE))
	$(RUN) ruff check .
	$(RUN) mypy
	$(RUN) pytest -q $(if $(filter 1,$(WORKERS)),,-n $(WORKERS) --dist loadfile)

test-fast: env
	$(RUN) pytest -q -n $(WORKERS) --dist loadfile -m "not slow and not postgres and not browser"

lint: env
	$(RUN) ruff check .
	$(RUN) mypy

# The institution's package: dist/vinculo_sdk-<version>-py3-none-any.whl (README, "Instalar
# solo el SDK"); pure Python, none of the service's dependencies.
sdk-wheel: env
	$(RUN) python sdk/build_wheel.py --out dist

bench: env
	$(RUN) python benchmarks/encode.py
	$(RUN) python benchmarks/link.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
