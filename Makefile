# Uplift Mocap developer tasks. `make test` builds .venv on first use (Python 3.11), then runs pytest.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Installed without its declared deps (see requirements.txt): protobuf<5 clashes with onnx.
NODEPS := mediapipe==0.10.21
# Blender's extension validator/builder ships inside the bpy wheel; no Blender binary needed.
BLENDER_EXT = $(firstword $(wildcard $(VENV)/lib/python3.11/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py))

.PHONY: all venv test demo validate extension clean

all: test

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml Makefile
	@if [ ! -x "$(PY)" ]; then \
	  if python3.11 --version >/dev/null 2>&1; then boot=python3.11; \
	  elif python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then boot=python3; \
	  else echo "error: Python 3.11 is required (neither python3.11 nor python3 is 3.11)" >&2; exit 1; fi; \
	  echo "$$boot -m venv $(VENV)"; \
	  $$boot -m venv "$(VENV)"; \
	fi
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps $(NODEPS)
	$(PY) -m pip install --no-deps -e .
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(VENV)/bin/uplift demo

validate: $(STAMP)
	$(PY) "$(BLENDER_EXT)" validate .

# Build the installable extension zip into dist/ (honours [build] in blender_manifest.toml).
extension: $(STAMP)
	mkdir -p dist
	$(PY) "$(BLENDER_EXT)" build --source-dir . --output-dir dist

clean:
	rm -rf dist build *.egg-info .pytest_cache outputs
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
