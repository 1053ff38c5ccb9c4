import logging

from django.http import HttpRequest, HttpResponseServerError
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure a person can act on; views show the message, the API answers 400 with it."""

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponseServerError:
    """The 500 page in the product's frame, for the person signed in, while the request can
    still be read; when it cannot (the database may be what failed), the same page without
    the signed-in parts, as Django's own handler renders it, rather than a second crash."""
    try:
        body: str = loader.render_to_string("500.html", request=request)
    except Exception:
        logger.warning("The 500 page was rendered without the request's context", exc_info=True)
        body = loader.get_template("500.html").render()
    return HttpResponseServerError(body)
