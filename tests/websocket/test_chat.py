"""The showcase's WebSocket (`GET /chat/ws`) with a real client, Python's `websockets`:
the upgrade checked like any request (401 anonymous, 403 for an origin not allowed), messages
both ways, a message over ENDPOINT_WS_MESSAGE_LIMIT closing the connection, and an idle socket
closed by the server after ENDPOINT_WS_IDLE_TIMEOUT, and open sockets closed when the server
drains (SIGTERM). Run by .ci/websocket.sh, which starts the
showcase with a 1 KiB limit, a 1 s idle timeout and one CORS origin."""

import asyncio
import json
import os
import signal
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

URL = os.environ["BASE"].replace("http://", "ws://") + "/chat/ws"
AUTH = {"Authorization": "Bearer " + os.environ["TOKEN"]}


async def refused(status, **kwargs):
    try:
        async with connect(URL, **kwargs):
            pass
    except InvalidStatus as error:
        assert error.response.status_code == status, error.response.status_code
        body = json.loads(error.response.body)
        return body["data"]["code"]
    raise AssertionError(f"connected, expected {status}")


async def main():
    assert await refused(401) == "UNAUTHORIZED"
    assert await refused(403, additional_headers=AUTH, origin="https://evil.example") == "FORBIDDEN"
    print("ok: anonymous 401, foreign origin 403, before any upgrade")

    async with connect(URL, additional_headers=AUTH, origin="https://app.example.com") as ws:
        await ws.send("hello")
        assert await ws.recv() == "ann: hello"
        await ws.send("who")
        who = json.loads(await ws.recv())
        assert who["user"] == "ann" and who["admin"] is False, who
    print("ok: messages both ways, from a CORS origin, as the authenticated caller")

    async with connect(URL, additional_headers=AUTH, max_size=None) as ws:
        await ws.send("x" * 2048)
        sent = time.monotonic()
        try:
            await asyncio.wait_for(ws.recv(), 5)
            raise AssertionError("an answer to a message over the limit")
        except ConnectionClosed:
            # At once, not as an idle socket after the 1 s idle timeout.
            assert time.monotonic() - sent < 0.9, time.monotonic() - sent
    print("ok: a message over the limit closes the connection at once")

    started = time.monotonic()
    async with connect(URL, additional_headers=AUTH) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)
            raise AssertionError("a message on an idle socket")
        except ConnectionClosed as closed:
            waited = time.monotonic() - started
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed.rcvd
            assert closed.rcvd.reason == "idle", closed.rcvd
            assert 0.9 <= waited < 5, waited
    print(f"ok: an idle socket closed by the server (1001 idle) after {waited:.1f} s")

    # Last: SIGTERM. The server starts draining and closes open sockets (1001 going away).
    async with connect(URL, additional_headers=AUTH) as ws:
        await ws.send("still here")
        assert await ws.recv() == "ann: still here"
        os.kill(int(os.environ["SERVER_PID"]), signal.SIGTERM)
        try:
            await asyncio.wait_for(ws.recv(), 0.9)
            raise AssertionError("a message after SIGTERM")
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed.rcvd
            assert closed.rcvd.reason == "going away", closed.rcvd
    print("ok: SIGTERM closes open sockets (1001 going away)")


asyncio.run(main())
