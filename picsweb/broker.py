"""The embedded broker: kombu's filesystem transport, with every message whole when seen.

kombu writes a message straight into its final name, so a worker polling the folder can take
the file between its creation and its write and read nothing; kombu then raises out of the
worker's loop and the worker stops (celery/kombu#1551). Here a message is written under a name
no worker takes and renamed into place whole, and a file that still cannot be read is logged
and passed over: the task's row stays queued and the sweeper sends it again.
"""

import logging
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)

# Not a message's name: kombu takes only files whose name ends ".<queue>.msg".
PARTIAL_SUFFIX = ".part"


class Channel(filesystem.Channel):
    # kombu's stubs give the filesystem channel's _put a signature its base's does not allow.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add {name!r} to the broker's folder") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        # kombu has removed a message's file by the time it decodes it, so each pass
        # that fails has dropped one unreadable file; Empty ends the loop.
        while True:
            try:
                return super()._get(queue)
            except ValueError:
                logger.error("The embedded broker passed over an unreadable message on %s", queue)


class Transport(filesystem.Transport):
    Channel = Channel
