# Shortcuts; each target is one of the project's scripts.
.PHONY: run test unit lint lock bench services-up services-down

run:            ## servers up, migrations, service on :8080
	scripts/run.sh

test:           ## servers up, static checks, every test suite
	scripts/test.sh

unit:           ## the fast tests only (no servers needed)
	scripts/python-env.sh && .venv/bin/pytest tests/unit -q

lint:
	scripts/python-env.sh && .venv/bin/ruff check src tests bench scripts && .venv/bin/ruff format --check src tests bench scripts && .venv/bin/mypy && .venv/bin/lint-imports

lock:           ## re-resolve uv.lock to the newest versions pyproject.toml allows; then: make test
	scripts/python-env.sh --lock

bench:          ## the benchmark suite against the real local servers (BENCH_ARGS=--quick; BENCH_ARGS=profile: py-spy)
	scripts/bench.sh $(BENCH_ARGS)

services-up:
	scripts/services.sh up all

services-down:
	scripts/services.sh down
