"""Checks that the settings shipped in deploy/ are settings the service has, with values it
accepts: every ORDER_SERVICE_* key of the rendered ConfigMaps and Secrets (stdin) and of the
compose file's environments. A misspelt name would be ignored by the service, silently.

usage: kustomize build deploy/kubernetes | .venv/bin/python check_settings.py COMPOSE.yml
"""

from __future__ import annotations

import re
import sys

import yaml

from entrypoints.settings import ENV_PREFIX, ConfigError, load, table


def compose_environments(path: str) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        services = yaml.safe_load(f)["services"]
    result = {}
    for name, service in services.items():
        env = service.get("environment") or {}
        # ${NAME:-default} as compose interpolates it with NAME unset.
        result[f"compose service {name}"] = {
            k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()
        }
    return result


def main(compose_path: str) -> int:
    sources: dict[str, dict[str, str]] = {}
    for doc in yaml.safe_load_all(sys.stdin):
        if doc and doc["kind"] in ("ConfigMap", "Secret"):
            data = {**doc.get("data", {}), **doc.get("stringData", {})}
            sources[f"{doc['kind']} {doc['metadata']['name']}"] = data
    sources.update(compose_environments(compose_path))
    known = {info.env for info in table()}
    problems = []
    for source, env in sources.items():
        ours = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
        problems += [f"{source}: {k} is not a setting" for k in sorted(set(ours) - known)]
        try:
            load(ours)
        except ConfigError as exc:
            problems.append(f"{source}: {exc}")
    for p in problems:
        print(f"settings: {p}", file=sys.stderr)
    if not problems:
        checked = [s for s, env in sources.items() if any(k.startswith(ENV_PREFIX) for k in env)]
        print(f"{len(checked)} environments ({', '.join(checked)}): names known, values accepted")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
