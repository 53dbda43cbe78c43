# The two commands of the README. Each creates .venv and installs what it needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

VIEWER := proteiniq_jupyter/static/vendor/3Dmol-min.js
WIDGETS := proteiniq_jupyter/static/widgets
FRONT := $(WIDGETS)/.built
JLPM := $(BIN)/jlpm
FRONT_SOURCES := package.json yarn.lock .yarnrc.yml js/package.json js/tsconfig.json \
	labextension/package.json labextension/tsconfig.json labextension/rspack.config.cjs \
	$(shell find js/src js/scripts labextension/src labextension/scripts labextension/style -type f 2>/dev/null)

.PHONY: lab test install check clean browser mutation

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lab]'
	touch $(STAMP)

# The front end: the widgets' bundles (js/, esbuild) and the 3D viewer from the npm
# registry, so pages and widgets render with no internet. jlpm comes with jupyter-builder.
node_modules/.yarn-state.yml: package.json yarn.lock .yarnrc.yml js/package.json labextension/package.json $(STAMP)
	$(JLPM) install --immutable

# The widgets' bundles, the vendored viewer and the JupyterLab extension (jupyter-builder),
# which the editable install links into the environment for `jupyter lab`.
$(FRONT): node_modules/.yarn-state.yml $(FRONT_SOURCES)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(JLPM) build
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter-builder develop --overwrite .
	touch $(FRONT)

$(VIEWER): $(FRONT)

# Browser tests drive Debian's chromium; install it when missing (as root).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

install: $(STAMP) $(FRONT) $(VIEWER)

lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# The TypeScript type check (strict) and its linter, then Python's.
check: install
	$(JLPM) check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy proteiniq_jupyter

test: check browser
	PIQ_TEST_HARD_EXIT=1 $(BIN)/pytest -q --durations=25

# Mutation testing of the rules that decide money and access: credits, access, status
# moves, the idempotency fingerprint, history cursors and the docking box. Slow, so
# apart from `make test`; the tests it runs are in [tool.mutmut] of pyproject.toml,
# its last results in benchmarks/README.md.
MUTMUT := $(BIN)/mutmut
MUTATED := 'proteiniq_jupyter.jobs.credits.*' 'proteiniq_jupyter.jobs.access.*' \
	'proteiniq_jupyter.jobs.status.*' 'proteiniq_jupyter.jobs.paging.*' \
	'proteiniq_jupyter.jobs.submission.x_request_hash__*' \
	'proteiniq_jupyter.jobs.submission.x__same_request__*' \
	'proteiniq_jupyter.store.keyset.x_before__*' \
	'proteiniq_jupyter.tools.vina.box.*'

$(MUTMUT): $(STAMP)
	$(BIN)/python -m pip install --quiet 'mutmut>=3.8,<4'

mutation: $(MUTMUT)
	rm -rf mutants
	nice -n 19 $(MUTMUT) run $(MUTATED)
	$(MUTMUT) results | grep -v ': not checked$$' || true

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules mutants $(dir $(VIEWER)) $(WIDGETS)
