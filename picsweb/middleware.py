"""Middleware of the product as a whole.

Requests holding a NUL character are refused with a clear 400 before any view sees them.

No field can store NUL and PostgreSQL refuses it in any query (psycopg raises ValueError, a
500), whether it came in the path, the query string, a cookie or other header, a form or a JSON
body. People do not type it; a paste from a binary file or a hostile client does.
"""

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

NUL = "\x00"
# A JSON string escape of NUL, not preceded by an escaped backslash ("\\u0000" is text).
JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
MESSAGE = (
    "The request holds a NUL character (U+0000) {where}, which nothing in picsweb can store. "
    "Remove it and try again."
)


def _pairs_hold_nul(query_dict: QueryDict) -> bool:
    return any(NUL in key or any(NUL in v for v in values) for key, values in query_dict.lists())


def _where_nul(request: HttpRequest) -> str | None:
    if NUL in request.path_info:
        return "in the address"
    if _pairs_hold_nul(request.GET):
        return "in the address's search or filters"
    if any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
        return "in a cookie"
    # The API's token arrives in a header and is looked up in the database.
    if any(NUL in str(value) for key, value in request.META.items() if key.startswith("HTTP_")):
        return "in a header"
    content_type = request.content_type or ""
    is_form = content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    is_json = content_type == "application/json" or content_type.endswith("+json")
    # Uploaded files may hold any bytes; only the form's text fields are checked.
    if is_form and _pairs_hold_nul(request.POST):
        return "in a form field"
    if is_json and (b"\x00" in request.body or JSON_NUL.search(request.body)):
        return "in the JSON body"
    return None


GetResponse = Callable[[HttpRequest], HttpResponse]


class RefuseNulMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _where_nul(request)
        if where is None:
            return self.get_response(request)
        message = MESSAGE.format(where=where)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        # Rendered without the request: its session and user may be what holds the NUL.
        return HttpResponse(render_to_string("400.html", {"message": message}), status=400)


class NoStoreForSignedInMiddleware:
    """Every answer to a signed-in person says ``Cache-Control: no-store``.

    Learner lists, delivery plans and the API carry personal data; neither the browser's cache
    nor a proxy may keep a copy once the person has signed out. One middleware, so that no new
    page can forget it (static files never reach it: WhiteNoise answers them first).
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
