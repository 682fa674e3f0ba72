# edgeroom in a container: the same Worker, served by primitives (Starlette + uvicorn).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EDGEROOM_DATA_DIR=/data

WORKDIR /srv/edgeroom

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY app ./app
COPY primitives ./primitives
RUN pip install '.[redis]'

COPY wrangler.toml ./
COPY web ./web
COPY migrations ./migrations

RUN useradd --create-home --uid 10001 edgeroom \
    && mkdir -p /data \
    && chown edgeroom:edgeroom /data
USER edgeroom

# Embedded stores (SQLite databases, R2 files, Durable Object files) live here.
VOLUME ["/data"]
EXPOSE 8787

HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=2).status != 200)"]

# Apply pending D1 migrations, then serve. SIGTERM closes WebSockets with 1001 and flushes storage.
CMD ["sh", "-c", "edgeroom migrate && exec edgeroom serve --host 0.0.0.0 --port 8787"]
