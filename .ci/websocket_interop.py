#!/usr/bin/env python3
"""Drives `broker node --websocket` the way third-party clients do.

Uses the `websockets` package (as zeekpy does): its default
permessage-deflate offer, zeekpy-style JSON (spaces, non-ASCII as \\u
escapes), zeek-client-style sorted keys, fragmented 4,096-byte frames,
pipelined frames before the ack, pings, the error cases of Zeek 8, and wss.

Usage: websocket_interop.py PATH-TO-BROKER-BINARY
Exits 0 when every check passed; prints one line per check.
"""

import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time

import websockets
from websockets.asyncio.client import connect

TIMEOUT = 10
PATH = "/v1/messages/json"


class Node:
    """A `broker node` with a WebSocket listener, subscribed to /interop."""

    def __init__(self, binary, tls):
        self.dir = tempfile.mkdtemp(prefix="ws-interop-")
        ready = os.path.join(self.dir, "ready")
        args = [binary, "node", "--websocket", "127.0.0.1:0", "--ready-file", ready,
                "--listen", "127.0.0.1:0", "--subscribe", "/interop"]
        if not tls:
            args.append("--disable-ssl")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     text=True)
        deadline = time.time() + TIMEOUT
        while not os.path.exists(ready):
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("broker node did not become ready")
            time.sleep(0.05)
        with open(ready) as f:
            lines = f.read().split("\n")
        self.port = int(lines[0])
        self.ws_port = int(lines[1])
        scheme = "wss" if tls else "ws"
        self.url = f"{scheme}://127.0.0.1:{self.ws_port}{PATH}"

    def read_message(self):
        """The next data message the node printed (its /interop subscriber)."""
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("broker node ended")
        return json.loads(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def count(n):
    return {"@data-type": "count", "data": n}


def event(topic, name, args):
    """An event as zeekpy sends it: topic first, no metadata."""
    return json.dumps({"topic": topic, "type": "data-message", "@data-type": "vector",
                       "data": [count(1), count(1), {"@data-type": "vector", "data": [
                           {"@data-type": "string", "data": name},
                           {"@data-type": "vector", "data": args}]}]})


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def handshake(ws, topics):
    await ws.send(json.dumps(topics))
    ack = await recv_json(ws)
    assert ack["type"] == "ack" and "endpoint" in ack and "version" in ack, ack
    return ack


async def check_deflate_offer_and_ack(node):
    # websockets offers permessage-deflate by default. RFC 7692 lets a server
    # decline; ours does (tungstenite 0.30 cannot compress, see
    # docs/websocket.md), so the answer carries no extension and frames flow
    # uncompressed. Should the server start accepting it, this check says so.
    async with connect(node.url, additional_headers={"X-Application-Name": "interop/1.0"}) as ws:
        offered = ws.request.headers.get("Sec-WebSocket-Extensions") or ""
        assert "permessage-deflate" in offered, offered
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert accepted is None, f"extension negotiated: {accepted}"
        ack = await handshake(ws, ["/interop"])
        assert "-websocket-" in ack["endpoint"], ack


async def check_zeekpy_event_reaches_the_node(node):
    async with connect(node.url) as ws:
        await handshake(ws, [])
        args = [{"@data-type": "string", "data": "caf\u00e9 \U0001F600"}, count(42),
                {"@data-type": "real", "data": 2.0},
                {"@data-type": "timestamp", "data": "2022-04-10T07:00:00.125000+00:00"}]
        await ws.send(event("/interop/ping", "ping", args))
        msg = await asyncio.to_thread(node.read_message)
        assert msg["topic"] == "/interop/ping", msg
        inner = msg["data"][2]["data"]
        assert inner[0]["data"] == "ping", msg
        got = inner[1]["data"]
        assert got[0]["data"] == "caf\u00e9 \U0001F600", got
        assert got[2] == {"@data-type": "real", "data": 2.0}, got
        assert got[3]["data"] == "2022-04-10T07:00:00.125", got


async def check_clients_see_each_other_but_not_themselves(node):
    async with connect(node.url) as a, connect(node.url) as b:
        await handshake(a, ["/interop/chat"])
        await handshake(b, ["/interop/chat"])
        # zeek-client style: sorted keys.
        await a.send(json.dumps({"topic": "/interop/chat", "type": "data-message",
                                 "@data-type": "string", "data": "from a"}, sort_keys=True))
        msg = await recv_json(b)
        assert msg == {"type": "data-message", "topic": "/interop/chat",
                       "@data-type": "string", "data": "from a"}, msg
        await b.send(json.dumps({"topic": "/interop/chat", "@data-type": "string",
                                 "data": "from b"}))
        msg = await recv_json(a)
        assert msg["data"] == "from b", msg  # a's own message never came back
        # The node's subscriber got both.
        seen = {(await asyncio.to_thread(node.read_message))["data"] for _ in range(2)}
        assert seen == {"from a", "from b"}, seen


async def check_fragmented_4096_byte_frames(node):
    async with connect(node.url) as a, connect(node.url) as b:
        await handshake(a, [])
        await handshake(b, ["/interop/big"])
        payload = "x" * 50_000
        text = json.dumps({"topic": "/interop/big", "@data-type": "string", "data": payload})
        chunks = [text[i:i + 4096] for i in range(0, len(text), 4096)]
        assert len(chunks) > 10
        await a.send(iter(chunks))  # one message, fragmented
        msg = await recv_json(b)
        assert msg["data"] == payload
        msg = await asyncio.to_thread(node.read_message)
        assert msg["data"] == payload


async def check_errors_keep_the_connection_open(node):
    async with connect(node.url) as ws:
        await ws.send(json.dumps({"not": "an array"}))
        err = await recv_json(ws)
        assert err["type"] == "error" and err["code"] == "deserialization_failed", err
        await handshake(ws, ["/interop/err"])
        for bad in ["How is it going?", json.dumps({"@data-type": "count", "data": 1}),
                    json.dumps({"topic": "/x", "@data-type": "real", "data": 2})]:
            await ws.send(bad)
            err = await recv_json(ws)
            assert err["type"] == "error" and err["code"] == "deserialization_failed", err
        await ws.send(json.dumps({"topic": "/interop/err", "@data-type": "count", "data": 5}))
        msg = await asyncio.to_thread(node.read_message)
        assert msg["topic"] == "/interop/err" and msg["data"] == 5, msg


async def check_wrong_path_and_app_name(node):
    base = node.url[: -len(PATH)]
    for url, headers, code in [(base + "/v1/messages/binary", {}, "invalid_uri"),
                               (node.url, {"X-Application-Name": "bad name"},
                                "invalid_application_name")]:
        async with connect(url, additional_headers=headers) as ws:
            err = await recv_json(ws)
            assert err["type"] == "error" and err["code"] == code, err
            try:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
                raise AssertionError("expected a close")
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1008, closed


async def check_pipelining_and_ping(node):
    async with connect(node.url) as ws:
        await ws.send(json.dumps(["/interop/pipe"]))
        for n in range(50):
            await ws.send(json.dumps({"topic": "/interop/pipe", "@data-type": "count", "data": n}))
        ack = await recv_json(ws)
        assert ack["type"] == "ack", ack
        for n in range(50):
            msg = await asyncio.to_thread(node.read_message)
            assert msg["data"] == n, msg
        pong = await ws.ping(b"hello")
        await asyncio.wait_for(pong, TIMEOUT)


async def check_wss(node):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the default mode's ephemeral certificate
    async with connect(node.url, ssl=context) as a, connect(node.url, ssl=context) as b:
        await handshake(a, ["/interop/tls"])
        await handshake(b, [])
        await b.send(json.dumps({"topic": "/interop/tls", "@data-type": "string",
                                 "data": "secret"}))
        msg = await recv_json(a)
        assert msg["data"] == "secret", msg


PLAIN = [check_deflate_offer_and_ack, check_zeekpy_event_reaches_the_node,
         check_clients_see_each_other_but_not_themselves, check_fragmented_4096_byte_frames,
         check_errors_keep_the_connection_open, check_wrong_path_and_app_name,
         check_pipelining_and_ping]


def main():
    binary = sys.argv[1]
    failed = 0
    for tls, checks in [(False, PLAIN), (True, [check_wss])]:
        node = Node(binary, tls)
        try:
            for check in checks:
                try:
                    asyncio.run(asyncio.wait_for(check(node), 3 * TIMEOUT))
                    print(f"ok   {check.__name__}")
                except Exception as e:  # report every failing check
                    failed += 1
                    print(f"FAIL {check.__name__}: {e!r}")
        finally:
            node.stop()
    print(f"websocket interop (websockets {websockets.__version__}): "
          f"{len(PLAIN) + 1 - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
