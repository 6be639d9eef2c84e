# carerules: the HTTP API and web page in a slim image that runs as a non-root user.
# Build stage: the carerules wheel and every dependency as wheels (durable-rules is compiled here, with gcc).
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY engine engine
COPY api api
COPY rules rules
RUN pip install --no-cache-dir "build>=1.2" \
 && python -m build --wheel --outdir /wheels . \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/carerules-*.whl

# Runtime stage: no compiler, no sources; the shipped rulebook is inside the installed package.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /srv/carerules carerules \
 && mkdir /srv/carerules/data && chown carerules:carerules /srv/carerules/data
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheels carerules && rm -rf /tmp/wheels
USER carerules
WORKDIR /srv/carerules
# On a fresh volume the first administrator is added from the token in this secret file (api/auth/bootstrap.py; make
# one with `carerules users new-token`): no default password. Without it, serve on 0.0.0.0 refuses to start.
ENV PYTHONUNBUFFERED=1 \
    CARERULES_DATABASE_URL=sqlite:////srv/carerules/data/decisions.db \
    CARERULES_ADMIN_TOKEN_FILE=/run/secrets/carerules_admin_token
VOLUME /srv/carerules/data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["carerules", "serve", "--host", "0.0.0.0", "--port", "8000"]
