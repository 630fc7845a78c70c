"""Asserts what deploy/README.md promises of the rendered manifests (`kustomize build
deploy/kubernetes`, on stdin) beyond what the Kubernetes schemas can say: selectors that
find their pods, the command and probes of each workload, limits, a locked-down container.
"""

from __future__ import annotations

import sys

import yaml

problems: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        problems.append(message)


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def main() -> int:
    docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    deployments = by_kind.get("Deployment", {})
    workloads = {**deployments, **by_kind.get("Job", {})}
    pod_labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}

    expected = {
        "order-service-consumer": ("consume", "ops"),
        "order-service-http": ("http", "http"),
    }
    for name, (command, port) in expected.items():
        spec = deployments.get(name, {}).get("spec", {})
        check(bool(spec), f"Deployment {name} is missing")
        if not spec:
            continue
        container = spec["template"]["spec"]["containers"][0]
        check(container.get("args") == [command], f"{name} must run `{command}`")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = container.get(probe, {}).get("httpGet", {})
            check(get.get("port") == port, f"{name}: {probe} must be an httpGet on port {port}")
        paths = {
            container.get(p, {}).get("httpGet", {}).get("path")
            for p in ("livenessProbe", "readinessProbe", "startupProbe")
        }
        check({"/healthz", "/readyz"} <= paths, f"{name}: probes must use /healthz and /readyz")
    check(
        deployments.get("order-service-consumer", {}).get("spec", {}).get("replicas") == 2,
        "order-service-consumer must have 2 replicas",
    )
    check(
        any(
            j["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"]
            for j in by_kind.get("Job", {}).values()
        ),
        "a Job must run `migrate`",
    )

    for name, doc in workloads.items():
        pod = doc["spec"]["template"]["spec"]
        check(
            pod.get("securityContext", {}).get("runAsNonRoot") is True,
            f"{name}: runAsNonRoot must be true",
        )
        for c in pod["containers"]:
            res = c.get("resources", {})
            check({"cpu", "memory"} <= set(res.get("requests", {})), f"{name}: requests")
            check("memory" in res.get("limits", {}), f"{name}: a memory limit")
            sc = c.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True, f"{name}: read-only root fs")
            check(sc.get("allowPrivilegeEscalation") is False, f"{name}: no privilege escalation")

    # Every selector must find the pods of a Deployment; every scale target must exist.
    services = {
        f"Service {n}": d["spec"]["selector"] for n, d in by_kind.get("Service", {}).items()
    }
    budgets = {
        f"PodDisruptionBudget {n}": d["spec"]["selector"]["matchLabels"]
        for n, d in by_kind.get("PodDisruptionBudget", {}).items()
    }
    for what, selector in {**services, **budgets}.items():
        check(
            any(matches(selector, labels) for labels in pod_labels.values()),
            f"{what} selects no Deployment's pods",
        )
    for name, labels in pod_labels.items():
        check(
            any(matches(s, labels) for s in budgets.values()),
            f"Deployment {name} needs a PodDisruptionBudget",
        )
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = hpa["spec"]["scaleTargetRef"]["name"]
        check(target in deployments, f"HorizontalPodAutoscaler {name} scales missing {target}")
        check(
            "replicas" not in deployments.get(target, {}).get("spec", {}),
            f"{target} sets replicas, which would fight its HorizontalPodAutoscaler",
        )
    check(
        "order-service-http"
        in {
            h["spec"]["scaleTargetRef"]["name"]
            for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
        },
        "order-service-http needs a HorizontalPodAutoscaler",
    )

    for p in problems:
        print(f"kubernetes: {p}", file=sys.stderr)
    if not problems:
        kinds = ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items()))
        print(f"kubernetes structure: ok ({kinds})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
