"""Tracing: off unless OTEL_* asks for it; spans per lookup, with the request's context."""

from __future__ import annotations

from dependency_injector import providers
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.testclient import TestClient

from adapters.telemetry.tracing import NO_TRACING, tracing_from_environment
from entrypoints.container import build_container, http_dependencies
from entrypoints.http.app import create_app
from entrypoints.settings import load
from tests.conftest import SAMPLE_ID
from tests.unit.conftest import IN_MEMORY

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_off_by_default_and_when_disabled() -> None:
    assert tracing_from_environment({}) is NO_TRACING
    assert tracing_from_environment({"OTEL_TRACES_EXPORTER": "none"}) is NO_TRACING
    disabled = {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}
    assert tracing_from_environment(disabled) is NO_TRACING
    assert not NO_TRACING.enabled


def test_the_standard_variables_turn_it_on() -> None:
    assert tracing_from_environment({"OTEL_TRACES_EXPORTER": "console"}).enabled
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert tracing_from_environment(endpoint).enabled


def test_each_lookup_is_a_span_under_the_callers_trace(sample_bytes: bytes) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    container = build_container(load({}, IN_MEMORY))
    container.tracing.override(providers.Object(tracing_from_environment({}, provider)))
    with TestClient(create_app(http_dependencies(container))) as client:
        container.ingest()([sample_bytes])
        client.get(f"/orders/{SAMPLE_ID}", headers={"traceparent": TRACEPARENT})
        client.get("/order", params={"id": "unknown1"})
    spans = {s.attributes["order.uid"]: s for s in exporter.get_finished_spans()}  # type: ignore[index]
    hit, miss = spans[SAMPLE_ID], spans["unknown1"]
    assert hit.attributes["order_service.lookup.answered_by"] == "memory"  # type: ignore[index]
    assert hit.attributes["order_service.lookup.found"] is True  # type: ignore[index]
    assert format(hit.context.trace_id, "032x") == TRACE_ID  # the caller's trace
    assert miss.attributes["order_service.lookup.answered_by"] == "repository"  # type: ignore[index]
    assert miss.attributes["order_service.lookup.found"] is False  # type: ignore[index]
    assert format(miss.context.trace_id, "032x") != TRACE_ID
