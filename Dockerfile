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
# For `serve` and `http`; `consume` answers on 8081, so its compose service sets its own.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
ENTRYPOINT ["order-service"]
CMD ["serve"]
