#!/usr/bin/env python3
"""A WebSocket server that records how each client closed, for broker-rs's
client tests. It speaks just enough of Zeek's JSON v1 API: it reads the
subscription array, answers with an ack, counts the data frames, and when the
connection ends prints one JSON line: the client's first subscription (a tag),
the frames received, the status code and reason of the client's Close frame
(null when none arrived), the close code the library settled on (1006 means
abnormal closure), and whether the client's Close came before ours.

Usage: ws_close_server.py   (prints {"port": N} first; runs until killed)
"""

import asyncio
import json
import sys

from websockets.asyncio.server import serve


async def handler(ws):
    try:
        subscriptions = json.loads(await ws.recv())
    except Exception as e:  # noqa: BLE001 - report, never crash the server
        print(json.dumps({"error": f"no subscription array: {e}"}), flush=True)
        return
    await ws.send(json.dumps({"type": "ack", "endpoint": "python-close-recorder",
                              "version": "test"}))
    frames = 0
    try:
        async for _ in ws:
            frames += 1
    except Exception:  # noqa: BLE001 - the close is what we record
        pass
    await ws.wait_closed()
    rcvd = ws.protocol.close_rcvd
    print(json.dumps({
        "tag": subscriptions[0] if subscriptions else None,
        "frames": frames,
        "client_code": rcvd.code if rcvd else None,
        "client_reason": rcvd.reason if rcvd else None,
        "close_code": ws.close_code,
        "client_closed_first": ws.protocol.close_rcvd_then_sent,
    }), flush=True)


async def main():
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
