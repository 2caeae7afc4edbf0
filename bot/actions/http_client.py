"""A small HTTP/1.1 client for action servers: POST a body, read the answer, keep the connection.

Why not aiohttp: on loopback against a server answering in 20 ms, 100 concurrent calls cost
the caller 134-149 µs of CPU each through aiohttp and 40 µs through this (bench/actions.py),
and on a busy service that CPU is taken from every other turn. It does only what action calls
need: `POST` with a `Content-Length` body over `http://` or `https://`; answers with a
`Content-Length`, chunked, or read to the close; keep-alive connections per origin, dropped
when the server closes them or after `idle_seconds` unused (before a typical server's own
keep-alive timeout), and never reused after a cancelled or unfinished exchange. No redirects,
no proxies, no cookies, no compression. Timeouts are the caller's (cancel the call).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024
MAX_TARGETS = 1024


class HttpError(Exception):
    """The exchange failed after the connection was made; the message says how."""


class ResponseTooLarge(HttpError):
    """The answer is over the caller's size limit; `declared` is its Content-Length, if it gave one."""

    def __init__(self, message: str, declared: int | None = None) -> None:
        super().__init__(message)
        self.declared = declared


class BadResponse(HttpError):
    """The answer is not HTTP/1.x this client can read."""


class ConnectionClosed(HttpError):
    """The server closed the connection before it had answered."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    """Header names lower-cased; a repeated header keeps its last value."""
    body: bytes


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; `exchange` sends a request and reads its answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done once the connection is gone (a TLS connection closes in a few steps)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but is one

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()
        if not self.lost.done():
            self.lost.set_result(None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _more(self) -> None:
        """Wait for more bytes; the server having closed is an error here."""
        if self.closed:
            raise ConnectionClosed("the action server closed the connection before it had answered")
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def _exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            await self._more()
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def _line(self, limit: int = MAX_HEAD_BYTES) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > limit:
                raise BadResponse("a line of the answer is too long")
            await self._more()
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    async def exchange(self, request: bytes, limit: int) -> tuple[Response, bool]:
        """Send `request` and read the answer; also whether the connection may be used again."""
        assert self.transport is not None
        self.transport.write(request)
        while True:
            while (end := self._buffer.find(b"\r\n\r\n")) < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise BadResponse(f"the answer's headers are over {MAX_HEAD_BYTES} bytes")
                await self._more()
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[: end + 4]
            version, status, headers = _head(head)
            if not 100 <= status < 200:  # skip interim answers (100 Continue)
                break
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked(limit)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise BadResponse(f"Content-Length is not a number: {length[:40]!r}")
            if int(length) > limit:
                raise ResponseTooLarge(f"response of {length} bytes is over the {limit}-byte limit", int(length))
            body = await self._exactly(int(length))
        else:
            body = await self._to_close(limit)
            keep = False
        return Response(status, headers, body), keep and not self.closed

    async def _chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size_text = (await self._line()).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadResponse(f"a chunk size is not a number: {size_text[:40]!r}") from None
            if size == 0:
                while await self._line():  # trailers, up to the empty line
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise ResponseTooLarge(f"response is over the {limit}-byte limit")
            chunk = await self._exactly(size + 2)
            body += chunk[:-2]

    async def _to_close(self, limit: int) -> bytes:
        while not self.closed:
            if len(self._buffer) > limit:
                raise ResponseTooLarge(f"response is over the {limit}-byte limit")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if len(self._buffer) > limit:
            raise ResponseTooLarge(f"response is over the {limit}-byte limit")
        body = bytes(self._buffer)
        self._buffer.clear()
        return body


def _head(head: str) -> tuple[str, int, dict[str, str]]:
    status_line, *lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise BadResponse(f"not an HTTP/1.x answer: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return parts[0], int(parts[1]), headers


_Origin = tuple[str, str, int]


def _target(url: str) -> tuple[_Origin, bytes]:
    """Where `url` is served, and the start of a request for it (request line and Host)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http:// or https:// URL with a host")
    origin = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    start = f"POST {target} HTTP/1.1\r\nHost: {parts.netloc.rpartition('@')[2]}\r\n"
    return origin, start.encode("latin-1")


class HttpClient:
    """Keep-alive connections per origin, for the event loop that makes the calls."""

    def __init__(self, *, idle_seconds: float = 4.0, ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle_seconds = idle_seconds
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._targets: dict[str, tuple[_Origin, bytes]] = {}
        """Each URL's origin and request line with Host header, parsed once."""
        self._closed = False

    async def post(self, url: str, body: bytes, headers: Mapping[str, str], limit: int) -> Response:
        """POST `body` to `url` and return the answer (at most `limit` bytes of body).

        Raises OSError when the server cannot be reached and `HttpError` when the exchange fails."""
        found = self._targets.get(url)
        if found is None:
            found = self._targets[url] = _target(url)
            if len(self._targets) > MAX_TARGETS:  # URLs come from configuration: never, in practice
                self._targets.clear()
        origin, start = found
        head = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        request = b"".join((start, head.encode("latin-1"), b"Content-Length: %d\r\n\r\n" % len(body), body))
        connection = self._take(origin) or await self._open(origin)
        reusable = False
        try:
            response, reusable = await connection.exchange(request, limit)
            return response
        finally:
            if reusable and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(origin, []).append(connection)
            else:  # failed, cancelled (a timeout) or told to close: the connection's state is unknown
                connection.close()

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: the likeliest to be still open
            if not connection.closed and now - connection.idle_since < self._idle_seconds:
                return connection
            connection.close()
        return None

    async def _open(self, origin: _Origin) -> _Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            context = self._ssl or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        transport, connection = await loop.create_connection(_Connection, host, port, ssl=context)
        connection.transport = transport  # uvloop may call connection_made only after this returns
        return connection

    async def aclose(self) -> None:
        """Close every idle connection (waiting up to a second for them to be gone); calls still
        running close theirs when they end."""
        self._closed = True
        idle = [connection for connections in self._idle.values() for connection in connections]
        self._idle.clear()
        for connection in idle:
            connection.close()
        if idle:  # let them finish closing while the loop still runs
            await asyncio.wait([connection.lost for connection in idle], timeout=1.0)
