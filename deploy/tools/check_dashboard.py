"""Checks the Grafana dashboard and the alert rules against the service's metrics.

- the dashboard is importable: a uid, a ${DS_PROMETHEUS} datasource variable that every
  panel and query uses, unique panel ids, a grid position for each panel;
- it has the panels the README lists (their metrics are queried);
- dashboard and rules name only metrics the service exports (METRICS below);
- every dashboard query is PromQL that promtool parses (as a recording rule, with the
  Grafana variables replaced by sample values).

usage: check_dashboard.py DASHBOARD.json ALERTS.yml   (promtool on PATH)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile

import yaml

# The contract with src/adapters/telemetry/prometheus.py (the consumer gauges, the circuit
# metrics included). Histograms add _bucket, _count and _sum.
COUNTERS = {
    "cache_lookups_total",
    "cache_errors_total",
    "orders_total",
    "repository_reads_total",
    "messages_consumed_total",
    "dead_lettered_total",
    "circuit_skipped_total",
}
GAUGES = {
    "consumer_lag",
    "group_lag_messages",
    "group_lag_seconds",
    "group_lag_up",
    "consumer_up",
    "consumer_retrying",
    "consumer_retry_seconds",
    "consumer_last_commit_timestamp_seconds",
    "circuit_open",
}
HISTOGRAMS = {"batch_size", "batch_save_seconds", "http_request_seconds"}
METRICS = {
    f"order_service_{name}{suffix}"
    for names, suffixes in ((COUNTERS | GAUGES, ("",)), (HISTOGRAMS, ("_bucket", "_count", "_sum")))
    for name in names
    for suffix in suffixes
}
# What the README promises the dashboard shows.
REQUIRED = {
    "order_service_orders_total",
    "order_service_group_lag_messages",
    "order_service_group_lag_seconds",
    "order_service_batch_save_seconds_bucket",
    "order_service_dead_lettered_total",
    "order_service_cache_lookups_total",
    "order_service_http_request_seconds_count",
    "order_service_http_request_seconds_bucket",
    "order_service_consumer_retrying",
    "order_service_consumer_last_commit_timestamp_seconds",
}
SAMPLE_VALUES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": ".*"}
DATASOURCE = "${DS_PROMETHEUS}"

problems: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        problems.append(message)


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\border_service_[a-z_]+", expr))


def main(dashboard_path: str, alerts_path: str) -> int:
    with open(dashboard_path, encoding="utf-8") as f:
        dashboard = json.load(f)
    check(bool(dashboard.get("uid")) and bool(dashboard.get("title")), "a uid and a title")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS", {})
    check(
        ds.get("type") == "datasource" and ds.get("query") == "prometheus",
        "a datasource variable DS_PROMETHEUS of type prometheus",
    )

    queries: dict[str, str] = {}
    ids = []
    for panel in dashboard.get("panels", []):
        ids.append(panel.get("id"))
        check("gridPos" in panel, f"panel {panel.get('title')!r} has no gridPos")
        if panel.get("type") == "row":
            continue
        title = panel.get("title")
        check(panel.get("datasource", {}).get("uid") == DATASOURCE, f"{title!r}: datasource")
        check(bool(panel.get("targets")), f"{title!r} has no query")
        for target in panel.get("targets", []):
            check(
                target.get("datasource", {}).get("uid") == DATASOURCE,
                f"{title!r} {target.get('refId')}: datasource",
            )
            queries[f"panel_{panel['id']}_{target['refId']}"] = target["expr"]
    check(len(ids) == len(set(ids)), "panel ids must be unique")

    used = set().union(*map(metric_names, queries.values()))
    check(used >= REQUIRED, f"dashboard lacks panels for {sorted(REQUIRED - used)}")
    with open(alerts_path, encoding="utf-8") as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    used |= set().union(*(metric_names(r["expr"]) for r in rules))
    check(used <= METRICS, f"unknown metrics: {sorted(used - METRICS)}")

    # promtool parses each query as the expression of a recording rule.
    recorded = []
    for name, query in queries.items():
        expr = query
        for variable, value in SAMPLE_VALUES.items():
            expr = expr.replace(variable, value)
        check("$" not in expr, f"{name}: unknown Grafana variable in {expr!r}")
        recorded.append({"record": f"dashboard:{name}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as rules_file:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recorded}]}, rules_file)
        rules_file.flush()
        result = subprocess.run(
            ["promtool", "check", "rules", rules_file.name],
            capture_output=True,
            text=True,
            check=False,
        )
    check(result.returncode == 0, f"promtool rejects a query:\n{result.stdout}{result.stderr}")

    for p in problems:
        print(f"grafana: {dashboard_path}: {p}", file=sys.stderr)
    if not problems:
        print(
            f"{dashboard_path}: {len(queries)} queries parsed by promtool, "
            f"{len(used)} metric names known"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
