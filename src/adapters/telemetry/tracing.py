"""OpenTelemetry tracing, opt-in: off unless the standard ``OTEL_*`` variables ask for it.

On when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``) or an OTLP
endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT``), unless
``OTEL_SDK_DISABLED=true``. The exporter reads the rest of its ``OTEL_*`` settings itself;
``OTEL_SERVICE_NAME`` defaults to ``order-service``.

Spans: one per consumed batch (order counts and outcome, linked to the W3C trace context of
each message that carries a ``traceparent`` header) and one per HTTP lookup (what answered
it: process memory, the cache or the repository), child of the request's ``traceparent``.
When off, nothing is imported and every hook is a single attribute check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from order_core.ingest import IngestResult

log = logging.getLogger(__name__)

Headers = Iterable[tuple[str, bytes]]


class Tracing:
    """The service's tracer; ``enabled`` False makes every method a no-op."""

    def __init__(self, tracer: Any = None) -> None:
        self.enabled = tracer is not None
        self._tracer = tracer
        if tracer is not None:
            from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
                TraceContextTextMapPropagator,
            )

            self._propagator = TraceContextTextMapPropagator()

    @staticmethod
    def now() -> int:
        return time.time_ns()

    def batch_span(
        self,
        *,
        topic: str,
        started_ns: int,
        headers: Iterable[Headers],
        size: int,
        result: IngestResult | None,
        error: BaseException | None = None,
    ) -> None:
        """Record the span of one consumed batch, from ``started_ns`` to now."""
        if not self.enabled:
            return
        attributes: dict[str, int | str] = {
            "messaging.batch.message_count": size,
            "order_service.outcome": "failed" if error else "done",
        }
        if result is not None:
            attributes |= {
                "order_service.saved": len(result.inserted),
                "order_service.already_stored": result.already_stored,
                "order_service.dead_lettered": len(result.rejected),
            }
        from opentelemetry.trace import Link, SpanKind, Status, StatusCode  # noqa: PLC0415

        links = []
        for message_headers in headers:
            carrier = {k: v.decode("latin-1") for k, v in message_headers if k in _W3C}
            if carrier:
                context = self._span_context(carrier)
                if context is not None:
                    links.append(Link(context))
        span = self._tracer.start_span(
            f"process {topic}",
            kind=SpanKind.CONSUMER,
            links=links,
            start_time=started_ns,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": topic,
                "messaging.operation.type": "process",
                **attributes,
            },
        )
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        span.end()

    def lookup_span(
        self, *, order_uid: str, traceparent: bytes, started_ns: int, answered_by: str, found: bool
    ) -> None:
        """Record the span of one HTTP lookup."""
        if not self.enabled:
            return
        from opentelemetry.trace import SpanKind  # noqa: PLC0415

        context = self._propagator.extract({"traceparent": traceparent.decode("latin-1")})
        span = self._tracer.start_span(
            "order lookup",
            context=context if traceparent else None,
            kind=SpanKind.SERVER,
            start_time=started_ns,
            attributes={
                "order.uid": order_uid,
                "order_service.lookup.answered_by": answered_by,
                "order_service.lookup.found": found,
            },
        )
        span.end()

    def _span_context(self, carrier: dict[str, str]) -> Any:
        from opentelemetry import trace  # noqa: PLC0415

        context = trace.get_current_span(self._propagator.extract(carrier)).get_span_context()
        return context if context.is_valid else None


_W3C = frozenset({"traceparent", "tracestate"})
NO_TRACING = Tracing()


def tracing_from_environment(environ: Mapping[str, str], provider: Any = None) -> Tracing:
    """The tracing the ``OTEL_*`` variables ask for (``provider``: a test's own)."""
    if provider is not None:
        return Tracing(provider.get_tracer("order-service"))
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return NO_TRACING
    exporters = [e.strip() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",") if e]
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if exporters == ["none"] or (not exporters and not endpoint):
        return NO_TRACING
    try:
        return Tracing(_sdk_tracer(exporters or ["otlp"], environ))
    except ImportError as exc:
        log.warning(
            "tracing asked for but not installed (pip install 'order-service[tracing]'): %s", exc
        )
        return NO_TRACING


def _sdk_tracer(exporters: list[str], environ: Mapping[str, str]) -> Any:
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
        BatchSpanProcessor,
        ConsoleSpanExporter,
    )

    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": "order-service"}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in exporters:
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", name)
    trace.set_tracer_provider(provider)
    log.info("tracing on (%s)", ", ".join(exporters))
    return provider.get_tracer("order-service")
