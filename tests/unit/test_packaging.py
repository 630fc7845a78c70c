"""The core library stands on its own: ``pip install order-service`` without the server
extra gives a working order_core (attrs and msgspec only)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Run with every server-side library made unimportable.
SCRIPT = textwrap.dedent(
    """
    import sys
    BLOCKED = {"orjson", "confluent_kafka", "psycopg", "psycopg_pool", "pymemcache", "redis",
               "starlette", "uvicorn", "dependency_injector", "prometheus_client", "anyio",
               "opentelemetry"}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is not installed (blocked)")
            return None

    sys.meta_path.insert(0, Blocker())
    from order_core import (CacheAdmin, CacheGateway, CacheThenRepository, SaveThenCache,
                            decode_order, encode_order)
    from adapters.caches.memory import InMemoryOrderCache
    from adapters.memory_repository import InMemoryOrderRepository

    raw = open(sys.argv[1], "rb").read()
    repository, cache = InMemoryOrderRepository(), CacheGateway(InMemoryOrderCache())
    result = SaveThenCache(repository, cache)([raw, b"not json"])
    assert result.inserted == {"b563feb7b2b84b6test"}, result
    assert len(result.rejected) == 1
    assert CacheThenRepository(repository, cache).get("b563feb7b2b84b6test") == decode_order(raw)
    print("core ok")
    """
)


def test_the_core_needs_no_server_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(REPO / "examples" / "sample-order.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "core ok"


def test_the_core_dependencies_are_the_only_required_ones() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("[")[0] for d in project["dependencies"]}
    assert names == {"attrs", "msgspec"}
    assert {"server", "tracing"} <= set(project["optional-dependencies"])
