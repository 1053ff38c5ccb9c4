"""Logging filters: a refused request is one line in the log, not a traceback."""

import logging

REFUSAL_LOGGERS = ("django.security", "django.request")


class RefusalsOnOneLine(logging.Filter):
    """Drops the traceback from records of requests the product refused on purpose.

    Django logs a disallowed host, a suspicious operation or a permission refusal with the
    exception attached; the message already says what was refused and where. Server errors
    (status 500 and above) keep their traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.startswith(REFUSAL_LOGGERS):
            status = getattr(record, "status_code", None)
            if status is None or status < 500:
                record.exc_info = None
                record.exc_text = None
        return True
