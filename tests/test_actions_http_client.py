"""The action servers' HTTP client against a real loopback server that answers in every way HTTP/1.1
allows (a length, chunks, to the close), misbehaves (hangs up, garbage, too big), is slow, or
closes kept-alive connections; on both event loops the service may run (asyncio and uvloop)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvloop

from bot.actions.http_client import BadResponse, ConnectionClosed, HttpClient, ResponseTooLarge
from tests.helpers import free_port


def _answer(body: bytes, *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Served:
    """What the server saw: (connection number, path) per request."""

    requests: list[tuple[int, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, served: Served) -> None:
    served.connections += 1
    number = served.connections
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = next(int(v) for k, _, v in (x.partition(": ") for x in lines[1:]) if k.lower() == "content-length")
            served.bodies.append(await reader.readexactly(length))
            served.requests.append((number, path))
            if path == "/ok":
                writer.write(_answer(b'{"n": %d}' % len(served.requests)))
            elif path == "/chunked":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b'5;ext=1\r\n{"a":\r\n3\r\n 1}\r\n0\r\nX-Trailer: yes\r\n\r\n'
                )
            elif path == "/close":
                writer.write(_answer(b'{"closing": true}', "Connection: close"))
                await writer.drain()
                return
            elif path == "/to-close":
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + b'{"until": "close"}')
                await writer.drain()
                return
            elif path == "/linger":  # answers and keeps the connection, then drops it a moment later
                writer.write(_answer(b"{}"))
                await writer.drain()
                await asyncio.sleep(0.05)
                return
            elif path == "/hangup":
                return
            elif path == "/garbage":
                writer.write(b"HELLO THERE\r\n\r\n")
            elif path == "/big":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 1000)
            elif path == "/big-chunks":
                chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"  # five of 1 KB: over the 4 KB limit
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 5)
            elif path == "/slow":
                await asyncio.sleep(0.5)
                writer.write(_answer(b'{"late": true}'))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()


@dataclass
class Server:
    url: str
    served: Served


def _serve(tls: ssl.SSLContext | None) -> Iterator[Server]:
    served = Served()
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: _handle(r, w, served), "127.0.0.1", port, ssl=tls)
        started.set()
        await stop.wait()
        server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    def serve() -> None:
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield Server(f"{'https' if tls else 'http'}://127.0.0.1:{port}", served)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from _serve(None)


LOOPS = ["asyncio", "uvloop"]


def run(loop: str, make: Callable[[], Awaitable[Any]]) -> Any:
    return uvloop.run(make()) if loop == "uvloop" else asyncio.run(make())


async def posts(url: str, paths: list[str], client: HttpClient | None = None, close: bool = True) -> list[Any]:
    """POST each path in turn with one client (closed after, unless not `close`); an exception is
    returned in place of its answer."""
    client = client or HttpClient()
    out: list[Any] = []
    try:
        for path in paths:
            try:
                out.append(await client.post(url + path, b'{"q": 1}', {"Content-Type": "application/json"}, 4096))
            except Exception as exc:
                out.append(exc)
    finally:
        if close:
            await client.aclose()
    return out


@pytest.mark.parametrize("loop", LOOPS)
def test_calls_reuse_one_kept_alive_connection(server: Server, loop: str) -> None:
    before = len(server.served.requests)
    answers = run(loop, lambda: posts(server.url, ["/ok", "/ok", "/ok"]))
    assert [a.status for a in answers] == [200, 200, 200]
    assert [a.body for a in answers] == [b'{"n": %d}' % (before + i) for i in (1, 2, 3)]
    assert answers[0].headers["content-type"] == "application/json"
    assert len({number for number, _ in server.served.requests[before:]}) == 1
    assert server.served.bodies[-1] == b'{"q": 1}'


@pytest.mark.parametrize("loop", LOOPS)
def test_chunked_and_read_to_the_close_bodies(server: Server, loop: str) -> None:
    chunked, closing, after = run(loop, lambda: posts(server.url, ["/chunked", "/to-close", "/ok"]))
    assert chunked.body == b'{"a": 1}'
    assert closing.body == b'{"until": "close"}'
    assert after.status == 200  # on a new connection: the server closed the last one
    numbers = [n for n, _ in server.served.requests[-3:]]
    assert numbers[0] == numbers[1] != numbers[2]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_connection_the_server_closes_is_not_used_again(server: Server, loop: str) -> None:
    async def calls() -> list[Any]:
        client = HttpClient()
        first = await posts(server.url, ["/close", "/linger"], client=client, close=False)
        await asyncio.sleep(0.3)  # the server drops the lingering connection meanwhile
        return first + await posts(server.url, ["/ok"], client=client)

    closed, lingered, after = run(loop, calls)
    assert (closed.body, lingered.status, after.status) == (b'{"closing": true}', 200, 200)
    numbers = [n for n, _ in server.served.requests[-3:]]
    assert len(set(numbers)) == 3


@pytest.mark.parametrize("loop", LOOPS)
def test_misbehaving_servers_raise_what_went_wrong(server: Server, loop: str) -> None:
    hangup, garbage, big, chunks, after = run(
        loop, lambda: posts(server.url, ["/hangup", "/garbage", "/big", "/big-chunks", "/ok"])
    )
    assert isinstance(hangup, ConnectionClosed)
    assert str(hangup) == "the action server closed the connection before it had answered"
    assert isinstance(garbage, BadResponse) and str(garbage) == "not an HTTP/1.x answer: 'HELLO THERE'"
    assert isinstance(big, ResponseTooLarge) and big.declared == 10_000_000
    assert str(big) == "response of 10000000 bytes is over the 4096-byte limit"
    assert isinstance(chunks, ResponseTooLarge) and str(chunks) == "response is over the 4096-byte limit"
    assert after.status == 200


@pytest.mark.parametrize("loop", LOOPS)
def test_a_cancelled_call_leaves_no_late_answer_for_the_next(server: Server, loop: str) -> None:
    async def calls() -> tuple[bool, Any]:
        client = HttpClient()
        try:
            try:
                await asyncio.wait_for(client.post(server.url + "/slow", b"{}", {}, 4096), 0.1)
                timed_out = False
            except TimeoutError:
                timed_out = True
            await asyncio.sleep(0.6)  # the slow answer arrives, on a connection nobody uses any more
            return timed_out, await client.post(server.url + "/ok", b"{}", {}, 4096)
        finally:
            await client.aclose()

    timed_out, after = run(loop, calls)
    assert timed_out and after.body.startswith(b'{"n": ')


def test_an_unreachable_server_is_an_os_error() -> None:
    with pytest.raises(OSError):
        asyncio.run(HttpClient().post(f"http://127.0.0.1:{free_port()}/x", b"{}", {}, 4096))
    with pytest.raises(ValueError, match="is not an http:// or https:// URL"):
        asyncio.run(HttpClient().post("ftp://example.org/x", b"{}", {}, 4096))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """The same server over TLS, with a certificate for 127.0.0.1 made here."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*command, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    for served in _serve(context):
        yield served, cert


@pytest.mark.parametrize("loop", LOOPS)
def test_https_with_the_servers_certificate_checked(tls_server: tuple[Server, Path], loop: str) -> None:
    server, cert = tls_server
    trusting = HttpClient(ssl_context=ssl.create_default_context(cafile=str(cert)))
    ok, chunked = run(loop, lambda: posts(server.url, ["/ok", "/chunked"], client=trusting))
    assert ok.status == 200 and chunked.body == b'{"a": 1}'
    (refused,) = run(loop, lambda: posts(server.url, ["/ok"]))  # the system's CAs do not know it
    assert isinstance(refused, ssl.SSLCertVerificationError)
