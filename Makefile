# Uplift Mocap developer tasks.
#   make test      the suite in .venv (Python 3.11, bpy 5.0, torch), then again in .venv-b42 (Python 3.11,
#                  bpy 4.2 LTS, numpy 1.24) and .venv-b52 (Python 3.13, bpy 5.2 LTS, numpy 2), which hold
#                  exactly the extension's bundled wheels and no torch. Each venv is built on first use
#                  (and rebuilt when its requirements change).
#   make package   dist/uplift_mocap-<version>-<platform>.zip for linux-x64, windows-x64, macos-arm64.
#   make validate  Blender's validator on this checkout (and on any built zips in dist/).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
B42 ?= .venv-b42
B52 ?= .venv-b52
B42_STAMP := $(B42)/.installed
B52_STAMP := $(B52)/.installed
# Installed without its declared deps (see requirements.txt): protobuf<5 clashes with onnx.
NODEPS := mediapipe==0.10.21
# Blender's extension validator/builder ships inside the bpy wheel; no Blender binary needed.
BLENDER_EXT = $(firstword $(wildcard $(VENV)/lib/python3.11/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py))
# The whole suite also runs in the Blender 4.2 and 5.2 environments (no torch there: torch-only
# tests skip). These two need mediapipe 0.10.x (legacy solutions API, bundled .tflite files) and
# only run in .venv; drop them here once they skip themselves on mediapipe >= 0.10.30.
MP010_ONLY := --deselect tests/test_detect.py::test_landmark_order_matches_mediapipe \
	--deselect tests/test_detect.py::test_build_script_reproduces_the_shipped_bundle
PYTEST := -m pytest -q -p no:cacheprovider

.PHONY: all venv venvs test test-main test-b42 test-b52 demo validate extension package wheels clean

all: test

venv: $(STAMP)
venvs: $(STAMP) $(B42_STAMP) $(B52_STAMP)

# $(call make_venv,DIR,PYTHON_VERSION): create DIR with that Python unless it already has one.
define make_venv
	@if [ ! -x "$(1)/bin/python" ]; then \
	  boot="$$(tools/find_python.sh $(2))" || exit 1; \
	  echo "$$boot -m venv $(1)"; \
	  "$$boot" -m venv "$(1)"; \
	fi
endef

$(STAMP): requirements.txt requirements/test-assets.txt pyproject.toml
	$(call make_venv,$(VENV),3.11)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps $(NODEPS) -r requirements/test-assets.txt
	$(PY) -m pip install --no-deps -e .
	touch $@

# The Blender test environments get exactly the wheels the extension zip bundles (--no-deps).
$(B42_STAMP): requirements/blender-4.2.txt requirements/extension.txt requirements/test-assets.txt pyproject.toml
	$(call make_venv,$(B42),3.11)
	$(B42)/bin/python -m pip install -r requirements/blender-4.2.txt
	$(B42)/bin/python -m pip install --no-deps -r requirements/extension.txt -r requirements/test-assets.txt
	$(B42)/bin/python -m pip install --no-deps -e .
	touch $@

$(B52_STAMP): requirements/blender-5.2.txt requirements/extension.txt requirements/test-assets.txt pyproject.toml
	$(call make_venv,$(B52),3.13)
	$(B52)/bin/python -m pip install -r requirements/blender-5.2.txt
	$(B52)/bin/python -m pip install --no-deps -r requirements/extension.txt -r requirements/test-assets.txt
	$(B52)/bin/python -m pip install --no-deps -e .
	touch $@

test: test-main test-b42 test-b52

test-main: $(STAMP)
	$(PY) $(PYTEST)

test-b42: $(B42_STAMP)
	$(B42)/bin/python $(PYTEST) $(MP010_ONLY)

test-b52: $(B52_STAMP)
	$(B52)/bin/python $(PYTEST) $(MP010_ONLY)

demo: $(STAMP)
	$(VENV)/bin/uplift demo

validate: $(STAMP)
	$(PY) "$(BLENDER_EXT)" validate .
	@for z in $(wildcard dist/*.zip); do echo "$(PY) $(BLENDER_EXT) validate $$z"; \
	  $(PY) "$(BLENDER_EXT)" validate "$$z" || exit 1; done

# Plain extension zip without bundled wheels (development; detection and uplift need the wheels).
extension: $(STAMP)
	mkdir -p dist
	$(PY) "$(BLENDER_EXT)" build --source-dir . --output-dir dist

# Per-platform zips with the wheels of requirements/extension.txt for Python 3.11 and 3.13
# (downloaded once into wheels/; see tools/package_extension.py). PLATFORMS=linux-x64 builds one.
PLATFORMS ?= linux-x64 windows-x64 macos-arm64
package: $(STAMP)
	$(PY) tools/package_extension.py $(addprefix --platform ,$(PLATFORMS))

clean:
	rm -rf dist build *.egg-info .pytest_cache outputs
	find . -path ./$(VENV) -prune -o -path ./$(B42) -prune -o -path ./$(B52) -prune \
	  -o -name __pycache__ -type d -prune -exec rm -rf {} +
