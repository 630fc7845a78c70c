# The service image: the package and exactly the dependencies uv.lock pins, nothing else.
# One image runs every command (serve, http, consume, migrate, publish): docker-compose.yml
# and deploy/kubernetes choose the command, and the probes that fit it.
FROM python:3.11-slim AS build
# uv, pinned by the hashes of its wheels (the same file scripts/python-env.sh installs).
COPY scripts/uv-requirements.txt /tmp/uv-requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps --require-hashes \
      -r /tmp/uv-requirements.txt
WORKDIR /src
# Bytecode compiled here (the root file system is read-only at run time); the environment
# at the path it will have in the final image; never a Python other than the image's.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/order-service
# The dependencies alone first, from the lock (hash-checked): a layer that a source change
# does not rebuild.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --extra server --extra tracing --no-install-project --no-cache
COPY README.md LICENSE ./
COPY src ./src
RUN uv sync --locked --no-dev --extra server --extra tracing --no-editable --no-cache

FROM python:3.11-slim
# The version is pyproject.toml's (and the tag deploy/kubernetes/kustomization.yaml deploys):
# change them together. No public repository address is recorded in the project: pass
# yours with --build-arg SOURCE_URL=https://...
ARG SOURCE_URL=https://git.example.com/order-service
LABEL org.opencontainers.image.title="order-service" \
      org.opencontainers.image.description="Order processing service: Kafka in, PostgreSQL as the source of truth, a cache in front, HTTP lookups." \
      org.opencontainers.image.version="0.2.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"
# A numeric user and group, so Kubernetes can verify runAsNonRoot without a passwd lookup.
RUN groupadd --system --gid 10001 orders \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin orders
COPY --from=build /opt/order-service /opt/order-service
USER 10001:10001
# 8080: HTTP (serve, http); 8081: /healthz, /readyz, /metrics of consume (OPS_PORT).
EXPOSE 8080 8081
ENV PATH=/opt/order-service/bin:$PATH \
    ORDER_SERVICE_HTTP_HOST=0.0.0.0 \
    ORDER_SERVICE_LOG_FORMAT=json \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# /healthz of whatever the container runs: the command is PID 1's command line. `consume`
# answers on its ops port (ORDER_SERVICE_OPS_PORT, 8081; 0: no ops server, nothing to probe,
# healthy), `serve` and `http` on ORDER_SERVICE_HTTP_PORT (8080). Ports are read from the
# environment: a port given as a command-line flag instead (--ops-port) is not seen. One-shot
# commands (migrate, publish) disable it (docker-compose.yml); Kubernetes ignores it and
# uses the probes of deploy/kubernetes.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request as u; e = os.environ.get; cmd = open('/proc/1/cmdline', 'rb').read().split(b'\\0'); port = (e('ORDER_SERVICE_OPS_PORT') or '8081') if b'consume' in cmd else (e('ORDER_SERVICE_HTTP_PORT') or '8080'); port == '0' or u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
ENTRYPOINT ["order-service"]
CMD ["serve"]
