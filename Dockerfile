# One image for every Passerelle service; the command chooses the service.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY passerelle ./passerelle
COPY services ./services
RUN python -m venv /opt/passerelle \
 && /opt/passerelle/bin/pip install --quiet --upgrade pip \
 && /opt/passerelle/bin/pip install --quiet .

FROM python:3.11-slim
# The uid and gid the pods run as (runAsUser, runAsGroup) and the group that reads the mounted secrets.
RUN groupadd --system --gid 10001 passerelle \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home passerelle
WORKDIR /app
COPY --from=build /opt/passerelle /opt/passerelle
COPY schemas ./schemas
COPY contracts ./contracts
ENV PATH=/opt/passerelle/bin:$PATH \
    PASSERELLE_SCHEMAS_DIR=/app/schemas/avro \
    PASSERELLE_CONTRACTS_DIR=/app/contracts \
    PASSERELLE_METRICS_PORT=9100 \
    PASSERELLE_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so Kubernetes can check runAsNonRoot from the image alone. The root filesystem may be read-only: pip
# compiled the bytecode at install, and PYTHONDONTWRITEBYTECODE keeps Python from trying to write more.
USER 10001:10001
EXPOSE 9100
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PASSERELLE_METRICS_PORT', '9100') + '/health', timeout=2)"]
ENTRYPOINT ["passerelle"]
CMD ["--help"]
