"""What one Smart Assessor answer may cost: time, bytes and nesting.

Smart Assessor is a foreign system, so its answers are read as untrusted input. ``requests``
bounds each socket read, not an answer: a server that sends one byte every two seconds never
trips a 30 s read timeout. Here every read of one exchange (status line, headers, body) waits at
most until the exchange's ``Deadline``; the body is read in chunks and its size counted after
decompression, so a gzip bomb stops at the limit; and JSON is parsed only once its nesting is
known to be shallow, so deep nesting is an answer refused, not a ``RecursionError``.
"""

import contextlib
import http.client
import io
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# The only encodings asked for; anything else in Content-Encoding breaks the contract.
ACCEPT_ENCODING = "gzip, deflate"
_CHUNK_BYTES = 64 * 1024


class DeadlineExceeded(TimeoutError):
    """A socket read was about to wait past the exchange's deadline.

    A ``TimeoutError`` so that urllib3 and requests report it as a read timeout.
    """


class BodyRefused(ValueError):
    """A body that cannot be taken: too large, badly compressed, too deep or not JSON."""


class Deadline:
    """The moment by which one exchange must have its whole answer."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self._at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


_current = threading.local()


@contextlib.contextmanager
def deadline_applied(deadline: Deadline) -> Iterator[None]:
    """Answers whose reading starts in this block (on this thread) are read by ``deadline``."""
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = None


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each waiting at most the per-read timeout and never past the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline
        self._per_read = sock.gettimeout()  # the read timeout urllib3 set for this request

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: "WriteableBuffer") -> int | None:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise DeadlineExceeded(f"no complete answer within {self._deadline.seconds:g} s")
        wait = remaining if self._per_read is None else min(self._per_read, remaining)
        self._sock.settimeout(wait)
        try:
            return self._raw.readinto(buffer)
        except TimeoutError:
            if self._deadline.expired:
                raise DeadlineExceeded(
                    f"no complete answer within {self._deadline.seconds:g} s"
                ) from None
            raise

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections read their answers by the current deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class _Inflater:
    """gzip or deflate, inflated at most ``room`` bytes at a time: a bomb never expands."""

    def __init__(self, wbits: int):
        self._wbits = wbits
        self._inflate = zlib.decompressobj(wbits)

    def inflate(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        try:
            while data and len(out) < room:
                out += self._inflate.decompress(data, room - len(out))
                if self._inflate.eof:  # a gzip body may hold several members
                    data = self._inflate.unused_data
                    if data:
                        self._inflate = zlib.decompressobj(self._wbits)
                else:
                    data = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise BodyRefused(f"its compressed body is corrupt ({exc})") from None
        return bytes(out)


def _inflater(content_encoding: str) -> _Inflater | None:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflater(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return _Inflater(32 + zlib.MAX_WBITS)  # zlib-wrapped, as RFC 9110 means it
    raise BodyRefused(f"its Content-Encoding {content_encoding[:40]!r} was not asked for")


def read_body(response: requests.Response, *, limit: int) -> bytes:
    """The body of a streamed ``requests`` response, decompressed, of at most ``limit`` bytes.

    Reading stops as soon as either the bytes received or the bytes they inflate to pass the
    limit (``BodyRefused``); the caller closes the response, so the rest is never read.
    """
    too_large = BodyRefused(f"its body is larger than the {limit} bytes this client accepts")
    inflater = _inflater(response.headers.get("Content-Encoding", ""))
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    received = 0
    while True:
        data = response.raw.read(_CHUNK_BYTES, decode_content=False)
        if not data:
            return bytes(body)
        received += len(data)
        if inflater is not None:
            data = inflater.inflate(data, limit + 1 - len(body))
        body += data
        if len(body) > limit or received > limit:
            raise too_large


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest, counted without parsing it."""
    steps = _JSON_STRING.sub(b"", body).translate(_BRACKET_STEPS, delete=_NOT_BRACKETS)
    # Each opening bracket is +1 and each closing one -1 (signed bytes): the deepest point is
    # the largest running sum, computed at C speed however long the body.
    return max(accumulate(memoryview(steps).cast("b")), default=0)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_loads(body: bytes, *, max_depth: int) -> Any:
    """Parse a body as JSON once its nesting is checked (``BodyRefused`` when too deep).

    ``ValueError`` when it is not JSON, NaN and Infinity included (no database stores them).
    """
    depth = json_depth(body)
    if depth > max_depth:
        raise BodyRefused(
            f"its JSON nests {depth} levels deep; this client reads at most {max_depth}"
        )
    return json.loads(body, parse_constant=_no_constant)
