"""Health of each process, for container healthchecks: web answers, a worker answers a ping,
beat keeps the sweepers running."""

import datetime as dt
import socket

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

# Beat runs the sweepers every few seconds and stores their last run at least every three
# minutes (django-celery-beat's DatabaseScheduler), so a longer silence means beat is stuck.
BEAT_SILENCE_LIMIT = dt.timedelta(minutes=10)
HEARTBEAT_TASK = "sweep-enrolments"


class Unhealthy(Exception):
    pass


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The web process answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def worker_check(*, timeout: float = 10.0) -> str:
    """A Celery worker on this host answers a ping."""
    from picsweb.celery import app

    node = f"celery@{socket.gethostname()}"
    # None only when asked not to wait for replies.
    replies = app.control.ping(destination=[node], timeout=timeout) or []
    if not any(node in reply for reply in replies):
        raise Unhealthy(f"The worker {node} did not answer a ping within {timeout:g} s.")
    return f"{node} answered"


def beat_check() -> str:
    """Beat has run the enrolment sweeper recently."""
    from django_celery_beat.models import PeriodicTask

    now = timezone.now()
    last = (
        PeriodicTask.objects.filter(name=HEARTBEAT_TASK)
        .values_list("last_run_at", flat=True)
        .first()
    )
    if last is None:
        raise Unhealthy(f"Beat has not run {HEARTBEAT_TASK} yet.")
    if now - last > BEAT_SILENCE_LIMIT:
        raise Unhealthy(f"Beat last ran {HEARTBEAT_TASK} at {last:%Y-%m-%d %H:%M:%S %Z}.")
    return f"beat ran {HEARTBEAT_TASK} {int((now - last).total_seconds())} s ago"
