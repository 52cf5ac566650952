# studyhall in a container: `docker compose up` (compose.yaml) runs it with PostgreSQL.
# Two stages: the first builds a virtual environment with studyhall and its runtime dependencies
# (no dev extras), the second copies only that environment into a clean slim image.
# The Debian release is named so the pinned package versions below stay installable.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/studyhall
# Only what the package installs: pyproject's package list (bot, core, jobs, locales, web).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY core ./core
COPY jobs ./jobs
COPY locales ./locales
COPY web ./web
# A regular (non-editable) install of the checked-out source, compiled to bytecode by pip: every
# dependency has a wheel for CPython 3.11 on Linux, so no compiler is needed.
RUN /opt/studyhall/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
# A font with Chinese glyphs, so zh_CN charts are not drawn as empty boxes (core/analytics/charts.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so a bind-mounted /data can be chowned to it on the host (10001:10001).
RUN groupadd --system --gid 10001 studyhall \
    && useradd --system --uid 10001 --gid studyhall --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin studyhall \
    && mkdir /data \
    && chown studyhall:studyhall /data
COPY --from=build /opt/studyhall /opt/studyhall
# The HTTP app (webhooks, dashboard, /healthz) listens on every interface inside the container;
# compose.yaml publishes it on the host's loopback only, for a TLS proxy in front.
ENV PATH=/opt/studyhall/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    STUDYHALL_DATA_DIR=/data \
    STUDYHALL_HTTP_HOST=0.0.0.0 \
    STUDYHALL_HTTP_PORT=8080
USER 10001:10001
WORKDIR /data
# The log file, and the SQLite database when STUDYHALL_DATABASE_URL is not set.
VOLUME ["/data"]
EXPOSE 8080
# Liveness through the HTTP app, with the Python already in the image (slim has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('STUDYHALL_HTTP_PORT', '8080') + '/healthz', timeout=4)"]
ENTRYPOINT ["studyhall"]
CMD ["run"]
