"""The request the views receive, as django-htmx's middleware leaves it."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request with ``request.htmx``, set on every request by ``HtmxMiddleware``; for type
    checking only (as django-htmx's documentation suggests), never instantiated."""

    htmx: HtmxDetails
