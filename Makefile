# Two commands for a newcomer: `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.xstilts-installed
DEMO_OUT ?= runs/demo

.PHONY: demo test lint install clean bench-overhead browser

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# Without a GPU, take torch's CPU build first: a bare `torch` requirement would pull
	@# a multi-GB CUDA build. A GPU machine installs its own build through pyproject's range.
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q "torch==2.13.0"; fi
	@# uv resolves and installs the same versions as pip, in seconds rather than two minutes;
	@# pip does it where uv cannot be had. uv compiles no bytecode unless asked, and with
	@# PYTHONDONTWRITEBYTECODE set, as on this machine, every process would compile ray and transformers
	@# again on import: the suite ran twice as slow.
	$(PY) -m pip install -q uv && $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -e ".[dev]" \
		|| $(PY) -m pip install -q -e ".[dev]"
	@# DeepSpeed JIT-builds its CPU shared-memory comm op on first use (about a minute): do it
	@# now, where trainers.distributed looks for it, rather than inside the first trial.
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -c "from trainers.distributed import use_environment_extensions as u; u(); from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder as B; B().load()"; fi
	touch $(STAMP)

demo: $(STAMP)
	rm -rf $(DEMO_OUT)
	$(VENV)/bin/xstilts demo --out $(DEMO_OUT)

# The report's screenshot test runs in Debian's Chromium (a test tool's own browser download
# cannot reach its CDN here). Without root or apt the test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; } \
		|| echo "chromium not installed: the report's screenshot test will skip"; }

# The tests without Ray run in a second pytest beside the Ray ones: they are single-threaded
# (imports, one process's training), and a Ray test leaves a quarter of the two cores idle
# (measured per test from /proc/stat). The Ray tests stay in one process, one after another:
# each starts a Ray sized to the whole machine. (pytest-xdist's `loadgroup` cannot keep them
# together under pytest 9.2: pytest-dev/pytest-xdist#1386.) Their report follows the Ray tests'.
test: $(STAMP) browser
	@rest=$$(mktemp); $(PY) -m pytest -q -rs -m "not ray" tests >$$rest 2>&1 & pid=$$!; \
	$(PY) -m pytest -q -rs --durations=15 -m ray tests; ray=$$?; \
	wait $$pid; others=$$?; echo "== the tests without Ray"; cat $$rest; rm -f $$rest; \
	test $$ray -eq 0 -a $$others -eq 0

# Benchmarks print a figure and a ratio against a baseline measured in the same run.
bench-overhead: $(STAMP)
	$(PY) bench/trial_overhead.py --trials 3

lint: $(STAMP)
	$(VENV)/bin/ruff check sweep trainers analysis tests bench
	$(VENV)/bin/ruff format --check sweep trainers analysis tests bench

clean:
	rm -rf runs .pytest_cache
