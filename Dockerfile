# The web image, also run as the worker and the one-off setup (docker-compose.yml).
# Debian trixie's Python 3.13 in a virtual environment; the locked requirements with
# their hashes; static files collected at build time; an unprivileged user; gunicorn as
# PID 1, so SIGTERM stops it promptly.

FROM debian:trixie-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/main.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary :all: -r /tmp/requirements.txt

FROM debian:trixie-slim
# ca-certificates: SMTP over TLS and social sign-in check their servers' certificates.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 forum \
    && useradd --system --uid 10001 --gid forum --home-dir /app --shell /usr/sbin/nologin forum
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    DATA_DIR=/app/data \
    STATIC_ROOT=/app/staticfiles
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# DEBUG only lets settings load without a SECRET_KEY; collectstatic needs nothing else.
RUN DEBUG=true python manage.py collectstatic --no-input --verbosity 0 \
    && python -m compileall -q forum essays \
    && mkdir -p /app/data \
    && chown forum:forum /app/data
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "docker/healthcheck.py"]
CMD ["gunicorn", "--config", "docker/gunicorn.conf.py", "config.wsgi"]
