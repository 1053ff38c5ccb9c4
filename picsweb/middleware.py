"""Middleware of the product as a whole."""

from django.utils.cache import add_never_cache_headers


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in person says ``Cache-Control: no-store``.

    Learner lists, delivery plans and the API carry personal data; neither the browser's cache
    nor a proxy may keep a copy once the person has signed out. One middleware, so that no new
    page can forget it (static files never reach it: WhiteNoise answers them first).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
