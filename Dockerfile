# derm-rcm web app (SMART app + API) behind gunicorn.
# Build: docker build -t derm-rcm .   Run: docker run -p 8080:8080 -e DATABASE_URL=... -e DERMRCM_SECRET_KEY=... derm-rcm
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DERMRCM_HOME=/app \
    DERMRCM_HOST=0.0.0.0 \
    DERMRCM_PORT=8080

# Pango, HarfBuzz's subsetter and fonts: WeasyPrint renders the PA packet PDFs
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY integration ./integration
COPY smart_app ./smart_app
COPY mappings ./mappings
COPY fhir_profiles ./fhir_profiles
RUN pip install ".[postgres,server]" \
 && useradd --system --uid 10001 --home /app dermrcm \
 && mkdir -p /app/var && chown dermrcm /app/var
USER dermrcm

EXPOSE 8080
# Migrations run once per deploy: docker run ... derm-rcm dermrcm db upgrade
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "3", "--threads", "4", "--access-logformat", "%(h)s %(m)s %(U)s %(s)s %(L)s", "smart_app.app:serve_app()"]
