# One image for every picsweb process: web (the default command), Celery worker and beat,
# migrations and the Smart Assessor sandbox. docker-compose.yml shows how each is started.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WEB_CONCURRENCY=3

RUN groupadd --system picsweb \
    && useradd --system --gid picsweb --home-dir /app --no-create-home picsweb

WORKDIR /app

# Requirements first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Loading the settings with DJANGO_ENV=production demands both secrets. These throwaway values
# exist for this one command only: they are not in the image's environment, and every
# container gets the real ones at run time. The memory broker keeps the settings from creating
# the filesystem broker's folders.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-not-a-secret \
    FIELD_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    CELERY_BROKER_URL=memory:// \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var /data \
    && chown picsweb:picsweb /app/var /data

USER picsweb

EXPOSE 8000
# gunicorn reads its number of workers from WEB_CONCURRENCY.
CMD ["gunicorn", "picsweb.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
