# The service image: the package and its dependencies, nothing else. One image runs every
# command (serve, http, consume, migrate, publish): docker-compose.yml and
# deploy/kubernetes choose the command, and the probes that fit it.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# The service with its server and tracing extras (the bare package is the core library).
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[server,tracing]"

FROM python:3.11-slim
# A numeric user and group, so Kubernetes can verify runAsNonRoot without a passwd lookup.
RUN groupadd --system --gid 10001 orders \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin orders
COPY --from=build /wheels /wheels
# pip compiles the bytecode here, as root: at run time nothing is written, so the root
# file system can be read-only.
# The wheel built above from this very source: pinned by construction (--no-index).
# hadolint ignore=DL3013
RUN wheel="$(ls /wheels/order_service-*.whl)" \
 && pip install --no-cache-dir --no-index --find-links /wheels "${wheel}[server,tracing]" \
 && rm -rf /wheels
USER 10001:10001
# 8080: HTTP (serve, http); 8081: /healthz, /readyz, /metrics of consume (OPS_PORT).
EXPOSE 8080 8081
ENV ORDER_SERVICE_HTTP_HOST=0.0.0.0 \
    ORDER_SERVICE_LOG_FORMAT=json \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# For `serve` and `http`; `consume` answers on 8081, so its compose service sets its own.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["order-service"]
CMD ["serve"]
