# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   - run the main job on the built-in default spec (data -> train -> build -> report)
#   make test   - run the test suite (what .ci/run calls)
# and a fast path, `make verify`: build and verify the committed default bundle.
# Both create/refresh the virtualenv (.venv) with the pinned packages and install the
# system tools (simulators, Chromium) when missing. Re-running is quick: the venv is rebuilt only when
# pyproject.toml or requirements.lock change.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.codesign-installed
SPEC   ?= constraints/hl-lhc-multijet.yaml
DEMO   ?= build/demo
ENVSH  := tools/env.sh

.PHONY: setup tools demo verify test test-slow lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]' 2>&1 \
	  | { grep -v "^WARNING: Location .* is ignored" || true; }
	@touch $@

tools: setup
	@bash tools/install_tools.sh $(VENV)

demo: setup tools
	@. $(ENVSH) && bash tools/demo.sh $(SPEC) $(DEMO)

verify: setup tools
	@. $(ENVSH) && bash tools/verify_default.sh $(SPEC) build/verify

test: setup tools
	@. $(ENVSH) && $(PY) -m pytest -q

test-slow: setup tools
	@. $(ENVSH) && $(PY) -m pytest -q -m slow

# Re-resolve the pins after changing pyproject.toml (writes requirements.lock).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[test]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^codesign' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf build .pytest_cache
