# Ramp operator image: `ramp run` as a non-root user, on a slim Python without build tools.
#
#   docker build -t ghcr.io/ramp-dev/ramp:0.1.0 .
#
# or without Docker or a registry, on a Debian base bootstrapped from packages (buildah, podman):
#
#   make image        # testbed/image.sh: localhost/ramp:dev
#
# Every dependency ships binary wheels for CPython 3.11 on linux, so neither stage needs a
# compiler; the final stage receives only the virtual environment the builder installed.
# PYTHON_IMAGE may be any base with python3 and its venv module on PATH: the official Python
# image (default) or Debian's python3 + python3-venv; hence `python3`, and pip from the venv.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flags/ ./flags/
COPY operator/ ./operator/
# ramp-operator depends on ramp-flags (./flags), which no index serves: both are built here.
RUN python3 -m venv /opt/ramp \
 && /opt/ramp/bin/python -m pip wheel --wheel-dir /wheels ./flags . \
 && /opt/ramp/bin/python -m pip install --no-index --find-links /wheels /wheels/*.whl \
 && /opt/ramp/bin/ramp --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ramp" \
      org.opencontainers.image.description="Kubernetes operator for phased feature rollouts guarded by Prometheus" \
      org.opencontainers.image.source="https://github.com/ramp-dev/ramp" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/ramp/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=builder /opt/ramp /opt/ramp
# Promotion windows name IANA zones: the build fails unless this image resolves them (the venv
# carries the tzdata package; a base with /usr/share/zoneinfo would do too) and keeps DST.
RUN ["/opt/ramp/bin/python", "-c", "from datetime import datetime; from zoneinfo import ZoneInfo; assert datetime(2026, 7, 1, tzinfo=ZoneInfo('Europe/Berlin')).utcoffset().seconds == 7200"]
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["ramp"]
CMD ["run", "--all-namespaces"]
