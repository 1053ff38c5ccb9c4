"""What Django's error reports (the DEBUG page, the e-mails to ADMINS) may show.

Django's own filter hides what ``sensitive_variables`` and ``sensitive_post_parameters`` mark
only when DEBUG is off, so a developer's DEBUG page of a crash during the Smart Assessor token
fetch would show the password, the client key and the access token. Here the marks hold
whatever DEBUG says, and any local variable or dictionary key named like a secret (password,
client key, token, authorisation, ...) is blanked too, so an ``Authorization`` header in a
request's locals never shows either.
"""

import re
from collections.abc import ItemsView
from types import FrameType
from typing import Any

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter

# Deep enough for a request's headers or a JSON body, shallow enough for any structure.
_DEPTH = 3
_SECRET_NAME = re.compile(
    r"password|passwd|secret|token|client_?key|api_?key|authori[sz]ation|signature|cookie", re.I
)


class SecretsHiddenReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_traceback_frame_variables(
        self, request: HttpRequest | None, tb_frame: FrameType
    ) -> ItemsView[str, Any]:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return {name: self._cleanse(name, value, _DEPTH) for name, value in variables}.items()

    def _cleanse(self, name: Any, value: Any, depth: int) -> Any:
        if isinstance(name, str) and _SECRET_NAME.search(name):
            return self.cleansed_substitute
        # Only plain dicts are opened: a dict subclass may have a repr of its own (a redacted
        # body) and a MultiValueDict (request.POST) is cleansed by the parent already.
        if depth and type(value) is dict:
            return {key: self._cleanse(key, item, depth - 1) for key, item in value.items()}
        return value
