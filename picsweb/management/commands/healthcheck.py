"""`manage.py healthcheck web|worker|beat`: exit 0 when that process is healthy (compose)."""

import urllib.error
import urllib.request
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from picsweb import health


def _host() -> str:
    """A host name the web process accepts (ALLOWED_HOSTS), so the check is not refused."""
    for host in settings.ALLOWED_HOSTS:
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


def web_check(*, url: str, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"Host": _host()})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"{url} answered {response.status}"
    except (urllib.error.URLError, OSError) as exc:
        raise health.Unhealthy(f"{url} did not answer: {exc}") from exc


class Command(BaseCommand):
    help = "Exit 0 when the web process, a worker on this host, or beat is healthy."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("process", choices=["web", "worker", "beat"])
        parser.add_argument("--url", default="http://127.0.0.1:8000/healthz/")
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args: Any, process: str, url: str, timeout: float, **options: Any) -> None:
        try:
            if process == "web":
                message = web_check(url=url, timeout=timeout)
            elif process == "worker":
                message = health.worker_check(timeout=timeout)
            else:
                message = health.beat_check()
        except health.Unhealthy as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(message)
