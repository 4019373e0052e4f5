# The two commands of the README: `make run` serves the API locally, `make test` runs lint and every test.
# Each installs what is missing first (venv, npm packages, Debian's chromium for browser tests).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SITE := $(VENV)/lib/python3.11/site-packages

.PHONY: run stop status setup browser test lint format test-fast package

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# Make the project importable from anywhere in the venv (bench scripts, `python -m pytest`).
	echo "$(CURDIR)" > $(SITE)/gallery-project.pth
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Serve on http://127.0.0.1:8000 with DynamoDB Local and s3rver keeping their data under .local/.
run: setup
	$(PY) -m devtools.local_services env-file
	$(PY) -m devtools.local_services start
	$(PY) manage.py ensure_resources
	$(PY) manage.py create_curator_key --label local --output .local/curator.key --keep-valid
	@echo "Curator key: .local/curator.key   API: http://127.0.0.1:8000/api/   Stop services: make stop"
	$(PY) manage.py runserver 127.0.0.1:8000

stop:
	$(PY) -m devtools.local_services stop

status:
	$(PY) -m devtools.local_services status

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Everything: lint, the moto tier, the DynamoDB Local integration tier, browser tests.
test: setup browser lint
	$(PY) -m pytest -n 2

test-fast: setup
	$(PY) -m pytest -m "not integration and not browser" -n 2

# The prod Lambda zip (Lambda wheels, checked-hash pycs, glibc check); see docs/deploy.md.
package: setup
	$(PY) -m devtools.package_lambda --stage prod --output dist/
