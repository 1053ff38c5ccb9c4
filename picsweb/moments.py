"""A moment as people read it in the product: UK time, ``1 Dec 2026 14:05``."""

import datetime

from django.utils import formats, timezone


def when(moment: datetime.datetime, *, seconds: bool = False) -> str:
    """The stored (UTC) moment in the UK's time of that day, in the product's format."""
    local = timezone.localtime(moment)
    text = formats.date_format(local, "DATETIME_FORMAT")
    return f"{text}:{local:%S}" if seconds else text
