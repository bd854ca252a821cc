#!/usr/bin/env python3
"""pyzmq peers for broker-core/tests/zeromq_interop.rs: a Zeek-like proxy, a
Zeek-like node (hello handshake included) and a PUSH sender, all on libzmq as
pyzmq bundles it. They print JSON lines on stdout and stop by themselves.

CURVE keys, when --curve is given, come from Zeek's environment variables
ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_{SERVER,CLIENT}_{PUBLIC,SECRET}KEY.
"""

import argparse
import json
import os
import struct
import sys
import threading
import time

import zmq
import zmq.utils.z85

NODEID = b"zeek.cluster.nodeid."
ZEROMQ_HELLO = "Cluster::Backend::ZeroMQ::hello"
CLUSTER_HELLO = "Cluster::hello"


def out(**fields):
    print(json.dumps(fields), flush=True)


def key(name):
    return os.environ["ZEEK_CLUSTER_BACKEND_ZEROMQ_CURVE_" + name].encode()


# --- a little of Broker's bin v1: enough for hello events -----------------

def varbyte(n):
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        if n:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def enc(v):
    if isinstance(v, int):
        return b"\x02" + struct.pack(">Q", v)
    if isinstance(v, str):
        v = v.encode()
        return b"\x05" + varbyte(len(v)) + v
    if isinstance(v, list):
        return b"\x0e" + varbyte(len(v)) + b"".join(enc(x) for x in v)
    raise TypeError(v)


def event(name, *args):
    return enc([1, 1, [name, list(args)]])


def dec(b, i=0):
    """Decodes counts, strings and vectors; other values as None."""
    tag = b[i]
    i += 1
    if tag == 0x02:
        return struct.unpack(">Q", b[i:i + 8])[0], i + 8
    if tag in (0x05, 0x0E):
        n, shift = 0, 0
        while True:
            x = b[i]
            i += 1
            n |= (x & 0x7F) << shift
            shift += 7
            if not x & 0x80:
                break
        if tag == 0x05:
            return b[i:i + n].decode("utf-8", "replace"), i + n
        items = []
        for _ in range(n):
            item, i = dec(b, i)
            items.append(item)
        return items, i
    raise ValueError("tag %d" % tag)


def hello_of(payload):
    """(event name, [args]) of a Zeek event payload, or None."""
    try:
        msg, _ = dec(payload)
        return msg[2][0], msg[2][1]
    except Exception:  # not an event this decoder reads
        return None


# --- roles -----------------------------------------------------------------

def zap_handler(ctx, client_public, stop):
    zap = ctx.socket(zmq.REP)
    zap.bind("inproc://zeromq.zap.01")
    poller = zmq.Poller()
    poller.register(zap, zmq.POLLIN)
    while not stop.is_set():
        if not poller.poll(100):
            continue
        frames = zap.recv_multipart()
        ok = len(frames) >= 7 and frames[5] == b"CURVE" and frames[6] == client_public
        status = [b"200", b"OK", b"0"] if ok else [b"400", b"denied", b""]
        zap.send_multipart([b"1.0", frames[1]] + status + [b""])


def proxy(args):
    """Zeek's proxy: zmq_proxy between an XSUB and an XPUB (VERBOSER, NODROP)."""
    ctx = zmq.Context(io_threads=2)
    stop = threading.Event()
    if args.curve:
        threading.Thread(
            target=zap_handler,
            args=(ctx, zmq.utils.z85.decode(key("CLIENT_PUBLICKEY")), stop),
            daemon=True,
        ).start()
        time.sleep(0.1)
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_VERBOSER, 1)
    xpub.setsockopt(zmq.XPUB_NODROP, 1)
    for s in (xsub, xpub):
        s.setsockopt(zmq.LINGER, 0)
        if args.curve:
            s.setsockopt(zmq.CURVE_SERVER, 1)
            s.setsockopt(zmq.CURVE_SECRETKEY, key("SERVER_SECRETKEY"))
    xsub.bind("tcp://127.0.0.1:*")
    xpub.bind("tcp://127.0.0.1:*")
    out(
        role="proxy",
        xsub=xsub.getsockopt_string(zmq.LAST_ENDPOINT),
        xpub=xpub.getsockopt_string(zmq.LAST_ENDPOINT),
    )
    threading.Timer(args.seconds, lambda: os._exit(0)).start()
    zmq.proxy(xsub, xpub)


def load_frames(path, name):
    with open(path) as f:
        for line in f:
            v = json.loads(line)
            if v["name"] == name:
                return [bytes.fromhex(x) for x in v["frames_hex"]]
    raise SystemExit("no capture " + name)


def node(args):
    """A Zeek-like node: its topics, the hello handshake, and a capture to
    send once another node is up; prints what arrives on --print prefixes."""
    ctx = zmq.Context()
    xpub = ctx.socket(zmq.XPUB)
    xsub = ctx.socket(zmq.XSUB)
    xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
    for s in (xpub, xsub):
        s.setsockopt(zmq.LINGER, 0)
        if args.curve:
            s.setsockopt(zmq.CURVE_SERVERKEY, key("SERVER_PUBLICKEY"))
            s.setsockopt(zmq.CURVE_PUBLICKEY, key("CLIENT_PUBLICKEY"))
            s.setsockopt(zmq.CURVE_SECRETKEY, key("CLIENT_SECRETKEY"))
    xpub.connect(args.xsub)
    xsub.connect(args.xpub)
    me = args.id.encode()
    topics = [
        NODEID + me + b".",
        b"zeek.cluster.node." + args.name.encode() + b".",
        b"zeek.cluster.worker",
    ] + [t.encode() for t in args.subscribe]
    for t in topics:
        xsub.send(b"\x01" + t)
    prints = [p.encode() for p in args.print]
    send = load_frames(args.file, args.send) if args.send else None
    seen, hellos, up, subs = set(), {}, {}, set()
    sent = False
    received = 0

    def publish(topic, payload):
        xpub.send_multipart([topic, me, b"broker-bin-v1", payload])

    poller = zmq.Poller()
    poller.register(xpub, zmq.POLLIN)
    poller.register(xsub, zmq.POLLIN)
    deadline = time.time() + args.seconds
    while time.time() < deadline:
        for sock, _ in poller.poll(50):
            if sock is xpub:
                frame = xpub.recv()
                flag, topic = frame[:1], frame[1:]
                if topic.startswith(NODEID) and topic.endswith(b"."):
                    other = topic[len(NODEID):-1]
                    if other == me:
                        continue
                    if flag == b"\x01":
                        publish(topic, event(ZEROMQ_HELLO, args.name, args.id))
                        seen.add(other)
                        if other in hellos:
                            publish(topic, event(CLUSTER_HELLO, args.name, args.id))
                    elif flag == b"\x00":
                        seen.discard(other)
                        if other in up:
                            out(event="node_down", name=up.pop(other), id=other.decode())
                elif flag == b"\x01":
                    subs.add(topic)
                    out(event="subscription", topic=topic.decode("utf-8", "replace"))
                elif flag == b"\x00":
                    subs.discard(topic)
            else:
                frames = xsub.recv_multipart()
                if len(frames) != 4 or frames[1] == me:
                    continue
                topic = frames[0]
                if topic == NODEID + me + b".":
                    h = hello_of(frames[3])
                    if h and len(h[1]) == 2:
                        name, other = h[1][0], h[1][1].encode()
                        if h[0] == ZEROMQ_HELLO:
                            hellos[other] = name
                            if other in seen:
                                publish(NODEID + other + b".", event(CLUSTER_HELLO, args.name, args.id))
                        elif h[0] == CLUSTER_HELLO and other not in up:
                            up[other] = name
                            out(event="node_up", name=name, id=other.decode())
                if any(topic.startswith(p) for p in prints):
                    out(event="message", frames=[f.hex() for f in frames])
                    received += 1
                    if args.exit_after and received >= args.exit_after:
                        return
        # Send once a node is up and someone subscribed to the capture's
        # topic (XPUB filters at the sender).
        if send and up and not sent and any(send[0].startswith(t) for t in subs):
            xpub.send_multipart(send)
            sent = True
            out(event="sent", capture=args.send)
    out(event="timeout")


def push(args):
    """Sends a captured log batch to a PULL socket, as a Zeek node does."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 5000)
    if args.curve:
        s.setsockopt(zmq.CURVE_SERVERKEY, key("SERVER_PUBLICKEY"))
        s.setsockopt(zmq.CURVE_PUBLICKEY, key("CLIENT_PUBLICKEY"))
        s.setsockopt(zmq.CURVE_SECRETKEY, key("CLIENT_SECRETKEY"))
    s.connect(args.connect)
    s.send_multipart(load_frames(args.file, args.send))
    out(event="sent", capture=args.send)
    s.close()
    ctx.term()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="role", required=True)
    a = sub.add_parser("proxy")
    a.add_argument("--curve", action="store_true")
    a.add_argument("--seconds", type=float, default=60)
    a = sub.add_parser("node")
    a.add_argument("--xsub", required=True)
    a.add_argument("--xpub", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--id", required=True)
    a.add_argument("--subscribe", action="append", default=[])
    a.add_argument("--print", action="append", default=[])
    a.add_argument("--file")
    a.add_argument("--send")
    a.add_argument("--exit-after", type=int, default=0)
    a.add_argument("--curve", action="store_true")
    a.add_argument("--seconds", type=float, default=30)
    a = sub.add_parser("push")
    a.add_argument("--connect", required=True)
    a.add_argument("--file", required=True)
    a.add_argument("--send", required=True)
    a.add_argument("--curve", action="store_true")
    args = p.parse_args()
    {"proxy": proxy, "node": node, "push": push}[args.role](args)


if __name__ == "__main__":
    sys.exit(main())
