# The two commands of the README: `make run` serves the API locally, `make test` runs lint and every test.
# Each installs what is missing first (venv, npm packages, Debian's chromium for browser tests).

# The Python of Lambda's runtime, named in .python-version (docs/deploy.md, "The runtime"); `make
# PYTHON=/path/to/python3.13 ...` chooses the interpreter when .venv is made, devtools/find-python otherwise.
PYTHON_VERSION := $(shell cut -d. -f1,2 .python-version)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run dev local stop status setup browser test lint format screenshots test-fast package deploy bench bench-setup bench-scale openapi

setup: $(VENV)/.installed-$(PYTHON_VERSION) node_modules/.installed clients/js/node_modules/.installed

# A venv of another Python (an older checkout's 3.11) is replaced, not reused.
$(VENV)/.installed-$(PYTHON_VERSION): requirements.txt requirements-dev.txt .python-version
	@if ! devtools/find-python $(PYTHON_VERSION) $(PY) >/dev/null 2>&1; then \
	  python=$$(devtools/find-python $(PYTHON_VERSION) $(if $(filter command line,$(origin PYTHON)),$(PYTHON))) || exit 1; \
	  echo "creating $(VENV) with $$python"; rm -rf $(VENV) && $$python -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip check
	# Make the project importable from anywhere in the venv (bench scripts, `python -m pytest`).
	echo "$(CURDIR)" > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/gallery-project.pth"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The JS client's own packages (openapi-typescript, typescript): its tests run in `make test`.
clients/js/node_modules/.installed: clients/js/package.json clients/js/package-lock.json
	npm ci --prefix clients/js --no-audit --no-fund --loglevel=error
	touch $@

# The API's contract, regenerated from the code: docs/openapi.yaml and the JS client's types (commit both;
# README, "The API's contract", says when a change breaks clients and how to make one on purpose).
openapi: setup
	$(PY) -m devtools.openapi write

# Serve on http://127.0.0.1:8000 (another port: make run API_PORT=8010) with DynamoDB Local and s3rver
# keeping their data under .local/: gunicorn (1 process, 8 threads), DEBUG off, static files collected and
# served by WhiteNoise, as on Lambda (devtools/local_services/server.py and gunicorn_config.py say why).
API_PORT ?= 8000
run: local
	$(PY) -m devtools.local_services serve --port $(API_PORT)

# The same on runserver, DEBUG on, reloading on every code change: for development only.
dev: local
	$(PY) -m devtools.local_services dev --port $(API_PORT)

local: setup
	$(PY) -m devtools.local_services env-file
	$(PY) -m devtools.local_services start
	$(PY) manage.py ensure_resources
	$(PY) manage.py create_curator_key --label local --output .local/curator.key --keep-valid
	@echo "Curator key: .local/curator.key   API: http://127.0.0.1:$(API_PORT)/api/   Stop services: make stop"

stop:
	$(PY) -m devtools.local_services stop

status:
	$(PY) -m devtools.local_services status

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

# Style, the layer contract between apps (import-linter, pyproject.toml) and types (mypy with the
# Django and DRF plugins, which read the settings: hence a throwaway secret and no local env file).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	DJANGO_SECRET_KEY=type-check-only GALLERY_ENV_FILE= $(PY) -m mypy

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Everything: lint, the moto tier, the DynamoDB Local integration tier, browser tests.
test: setup browser lint
	$(PY) -m pytest -n 2

# The console's pictures in the README (docs/console/*.png), taken by its browser test.
screenshots: setup browser
	GALLERY_CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest tests/browser/test_console_in_browser.py -p no:xdist -q

test-fast: setup
	$(PY) -m pytest -m "not integration and not browser" -n 2

# The prod Lambda zip (Lambda wheels, checked-hash pycs, glibc check); see docs/deploy.md.
package: setup
	$(PY) -m devtools.package_lambda --stage prod --output dist/

# Benchmarks (figures beside a baseline from the same run; not tests). Bench-only packages install here.
$(VENV)/.bench-installed: $(VENV)/.installed-$(PYTHON_VERSION) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench-setup: setup $(VENV)/.bench-installed

bench: bench-setup
	$(PY) bench/imaging.py
	$(PY) bench/runtime_floor.py
	$(PY) bench/coldstart.py

# Under load, on the local default's emulators (docs/scale.md): a hot photo, the aggregate's designs, and a
# minute of visitors and curators beside a bare DRF view.
bench-scale: bench-setup
	$(PY) bench/ratings.py
	$(PY) bench/rating_aggregates.py
	$(PY) bench/load.py

# Build, ensure the IAM role and policy, then `zappa deploy` (first time) or `zappa update` with that zip.
# Needs the operator's AWS credentials; see docs/deploy.md.
STAGE ?= prod
deploy: setup
	$(PY) -m devtools.deploy $(STAGE)
