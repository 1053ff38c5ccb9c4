"""The URL converter of Learner Idents: any stored ident makes a URL that leads back to it.

An ident stored before the ident rule may hold a "/" (2026/001), a "%", be "." or "..", or be
empty. ``to_url`` escapes what would change the path's meaning and ``reverse`` then quotes the
"%" once more; the server unquotes the path once and ``to_python`` unquotes the rest.
"""

from urllib.parse import unquote


class IdentConverter:
    # Empty is allowed so that a learner whose ident is empty still has a page to fix it from.
    regex = "[^/]*"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        escaped = str(value).replace("%", "%25").replace("/", "%2F")
        if escaped in {".", ".."}:
            # Browsers resolve dot segments away before sending the request.
            escaped = escaped.replace(".", "%2E")
        return escaped
