# The two commands a new machine needs: `make demo` and `make test`.
# Both build .venv (Python 3.10 with every extra) first, and reuse it while its inputs are unchanged.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test venv lint clean-venv

venv:
	@scripts/ensure-venv.sh

# The main job: the whole pipeline on the offline digits data (ANN -> SNN at T=2 -> T=1 ->
# pruned -> Loihi 2 fixed point -> Lava), every stage in runs/registry; a second run reuses them.
demo: venv
	$(PY) -m leanspike.app pipeline --dataset digits --registry runs/registry --out runs/demo

# --no-skips: in the project's own environment every test, Lava's included, must run.
test: venv
	$(PY) -m pytest --no-skips $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_imports.py

clean-venv:
	rm -rf $(VENV)
