"""A heartbeat for background work: renews a lease in a thread of its own while the work runs,
so that a remote call of any length never outlives the lease, and a dead worker's soon runs out.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def heartbeat(*, renew: Callable[[], bool], every: float, name: str) -> Iterator[None]:
    """Call ``renew`` every ``every`` seconds while the block runs; it returns False once the
    work has lost its claim, which stops the beats. The thread closes its own database
    connection when it ends."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every) and renew():
                pass
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
