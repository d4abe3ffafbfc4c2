# restyle: `make test` and `make demo` are the two commands of the README.
#
# TORCH picks the PyTorch build installed before the project: the CPU wheel by default (on a machine
# with a CUDA GPU, `make test TORCH=torch`). Installing it first keeps pip from pulling another torch.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   ?= torch==2.13.0
EXTRAS  ?= cpu,train,video,openvino,serve,int8,dev
SOURCES := $(shell find sdk training export -name '*.py' -o -name '*.onnx' -o -path '*/static/*' 2>/dev/null)
# The editable install links files into build/: `strict` mode lets mypy see the package-dir mapping.
EDITABLE := --config-settings editable_mode=strict
PYTEST_ARGS ?=

.PHONY: test test-slow lint layers typecheck pytest demo bench styles install clean gpu-check

install: $(VENV)/.package

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Third-party dependencies: reinstalled only when pyproject.toml changes.
$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[$(EXTRAS)]" $(EDITABLE)
	# tensorrt-stubs declares TensorRT itself as a requirement, which is not installable everywhere.
	$(BIN)/pip install -q --no-deps tensorrt-stubs
	# The 10.13 stubs have four lines that are not valid Python (a parameter named `in`, a required
	# parameter after defaults): repair them so mypy can read the TensorRT API.
	sed -i -E 's/([(,] )in: /\1in_: /g; s/channel_axis: int\) -> IScaleLayer/channel_axis: int = ...) -> IScaleLayer/' \
		"$$($(BIN)/python -c 'import tensorrt_stubs, pathlib; print(pathlib.Path(tensorrt_stubs.__file__).parents[1])')/tensorrt_bindings/tensorrt.pyi"
	touch $@

# The project itself: relinked when a source file is added or changed.
$(VENV)/.package: $(VENV)/.deps $(SOURCES) pyproject.toml
	flock $(VENV)/.lock $(BIN)/pip install -q --no-deps -e . $(EDITABLE)
	touch $@

lint: install
	$(BIN)/ruff check .

# The layers: import-linter's contracts (pyproject.toml) on the import graph, and
# tools/check_layers.py for the string imports (importlib, __import__) it cannot see.
layers: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/check_layers.py

typecheck: install
	$(BIN)/mypy -p restyle

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: layers lint typecheck pytest

test-slow: install
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

# The GPU path end to end in one command (under 8 minutes on one GPU): versions, TensorRT builds
# and the cache, every GPU backend against ort_cpu, streams, threads, CUDA graphs, pycuda, ORT on
# stream 0, a version-compatible engine, a damaged timing cache, memory and 1080p throughput.
# Writes out/gpu-check.json; each part that cannot run here says why.
gpu-check: install
	mkdir -p out
	$(BIN)/restyle doctor --gpu --json out/gpu-check.json

# The full benchmark matrix with timing; compare runs with --benchmark-compare.
bench: install
	mkdir -p out
	RESTYLE_BENCH=full $(BIN)/pytest benchmarks -m "slow or not slow" --benchmark-enable \
		--benchmark-only --benchmark-json=out/bench.json $(PYTEST_ARGS)

# The demo runs on the runtime install alone (no torch): its own venv with [cpu,video,openvino].
DEMO_VENV ?= .venv-demo
$(DEMO_VENV)/.deps: pyproject.toml
	test -x $(DEMO_VENV)/bin/python || $(PY) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q --upgrade pip
	$(DEMO_VENV)/bin/pip install -q ".[cpu,video,openvino]"
	touch $@

$(DEMO_VENV)/.package: $(DEMO_VENV)/.deps $(SOURCES)
	$(DEMO_VENV)/bin/pip install -q --no-deps --force-reinstall .
	touch $@

demo: $(DEMO_VENV)/.package
	$(DEMO_VENV)/bin/restyle demo --out out --gallery docs/gallery.jpg

# Rebuild the bundled styles (draw, train, export into sdk/styles/): ~8 min a style on 2 idle cores.
styles: install
	$(BIN)/python -m restyle.training.bundled --styles-dir sdk/styles

clean:
	rm -rf $(VENV) $(DEMO_VENV) build out .pytest_cache .mypy_cache .ruff_cache
