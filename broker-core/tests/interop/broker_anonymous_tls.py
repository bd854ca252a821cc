#!/usr/bin/env python3
"""Broker's side of an anonymous-TLS peering, for broker-rs's interop tests.

An independent TLS stack (Python's ssl module on OpenSSL) configured the way
Broker configures its default, unauthenticated mode: cipher list
AECDH-AES256-SHA@SECLEVEL=0, curve P-384, no certificate, no verification,
TLS 1.2 at least (and, with --tls12-only, at most). Over that connection it
runs Broker's peering handshake (probe, hello, version_select,
originator_syn, responder_syn_ack, originator_ack: protocol version 1),
sends one data message and waits for one.

Usage:
  broker_anonymous_tls.py listen  --id HEX [--tls12-only]   (prints {"port": N} first)
  broker_anonymous_tls.py connect --port N --id HEX [--tls12-only]

Prints one JSON object per line: "port", "tls" (version and cipher),
"peered" (the other side's id), "received" (topic and string), "done".
Exit status 0 on success, 77 when this Python's OpenSSL lacks the anonymous
suite, 1 on any protocol failure (with the reason on stderr).
"""

import argparse
import json
import socket
import ssl
import struct
import sys

MAGIC = 0x5A45454B
CIPHERS = "AECDH-AES256-SHA@SECLEVEL=0"
HELLO, PROBE, VERSION_SELECT, DROP_CONN = 6, 7, 8, 9
ORIGINATOR_SYN, RESPONDER_SYN_ACK, ORIGINATOR_ACK = 10, 11, 12
DATA = 1
TIMEOUT = 10.0
MAX_FRAME = 1 << 20
OUR_FILTER = ["/python"]


def say(**fields):
    print(json.dumps(fields), flush=True)


def fail(reason):
    print(f"broker_anonymous_tls.py: {reason}", file=sys.stderr, flush=True)
    sys.exit(1)


def context(server, tls12_only):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if not server:
        ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.set_ciphers(CIPHERS)
    except ssl.SSLError:
        print("this Python's OpenSSL has no AECDH-AES256-SHA", file=sys.stderr)
        sys.exit(77)
    ctx.set_ecdh_curve("secp384r1")
    return ctx


# ---- framing ------------------------------------------------------------------

def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(sock):
    (length,) = struct.unpack(">I", read_exact(sock, 4))
    if length == 0 or length > MAX_FRAME:
        fail(f"bad frame length {length}")
    return read_exact(sock, length)


def send_frame(sock, payload):
    sock.sendall(struct.pack(">I", len(payload)) + payload)


def varbyte(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varbyte(buf, at):
    value, shift = 0, 0
    while True:
        byte = buf[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def encode_filter(topics):
    out = varbyte(len(topics))
    for topic in topics:
        raw = topic.encode()
        out += varbyte(len(raw)) + raw
    return out


def decode_filter(buf):
    count, at = read_varbyte(buf, 0)
    topics = []
    for _ in range(count):
        length, at = read_varbyte(buf, at)
        topics.append(buf[at:at + length].decode())
        at += length
    return topics


# ---- Broker's handshake ---------------------------------------------------------

def hello(own_id):
    return struct.pack(">BI", HELLO, MAGIC) + own_id + bytes([1, 1])


def expect(frame, tag, what):
    if frame[0] == DROP_CONN:
        fail(f"peer sent drop_conn while we waited for {what}: {frame!r}")
    if frame[0] != tag:
        fail(f"expected {what} (tag {tag}), got tag {frame[0]}")
    if tag in (HELLO, PROBE, VERSION_SELECT) and struct.unpack(">I", frame[1:5])[0] != MAGIC:
        fail(f"{what} with a wrong magic number")


def next_handshake_frame(sock):
    """The next frame that is not a probe (probes are ignored here)."""
    while True:
        frame = read_frame(sock)
        if frame[0] != PROBE:
            return frame
        expect(frame, PROBE, "probe")


def as_originator(sock):
    send_frame(sock, struct.pack(">BI", VERSION_SELECT, MAGIC) + OWN_ID + bytes([1]))
    send_frame(sock, bytes([ORIGINATOR_SYN]) + encode_filter(OUR_FILTER))
    frame = next_handshake_frame(sock)
    expect(frame, RESPONDER_SYN_ACK, "responder_syn_ack")
    decode_filter(frame[1:])
    send_frame(sock, bytes([ORIGINATOR_ACK]))


def as_responder(sock):
    frame = next_handshake_frame(sock)
    expect(frame, VERSION_SELECT, "version_select")
    if frame[21] != 1:
        fail(f"version {frame[21]} selected")
    responder_syn_ack(sock)


def responder_syn_ack(sock):
    frame = next_handshake_frame(sock)
    expect(frame, ORIGINATOR_SYN, "originator_syn")
    decode_filter(frame[1:])
    send_frame(sock, bytes([RESPONDER_SYN_ACK]) + encode_filter(OUR_FILTER))
    frame = next_handshake_frame(sock)
    expect(frame, ORIGINATOR_ACK, "originator_ack")


def handshake_as_listener(sock):
    # Broker's accepting side: probe, then wait for the other's hello.
    send_frame(sock, struct.pack(">BI", PROBE, MAGIC))
    frame = next_handshake_frame(sock)
    expect(frame, HELLO, "hello")
    peer_id, low, high = frame[5:21], frame[21], frame[22]
    if not low <= 1 <= high:
        fail(f"hello offers versions {low}..{high}")
    if OWN_ID < peer_id:
        as_originator(sock)
    else:
        send_frame(sock, hello(OWN_ID))
        as_responder(sock)
    return peer_id


def handshake_as_connector(sock):
    send_frame(sock, hello(OWN_ID))
    frame = next_handshake_frame(sock)
    if frame[0] == HELLO:
        expect(frame, HELLO, "hello")
        peer_id = frame[5:21]
        as_originator(sock)
    else:
        expect(frame, VERSION_SELECT, "version_select or hello")
        peer_id = frame[5:21]
        if frame[21] != 1:
            fail(f"version {frame[21]} selected")
        responder_syn_ack(sock)
    return peer_id


# ---- data -----------------------------------------------------------------------

def data_message(topic, text):
    raw_topic, raw_text = topic.encode(), text.encode()
    value = bytes([0x05]) + varbyte(len(raw_text)) + raw_text
    return (OWN_ID + bytes(16) + bytes([DATA]) + struct.pack(">HH", 16, len(raw_topic))
            + raw_topic + value)


def wait_for_data(sock):
    while True:
        frame = read_frame(sock)
        if len(frame) < 37 or frame[32] != DATA:
            continue  # routing updates, pings
        (topic_len,) = struct.unpack(">H", frame[35:37])
        topic = frame[37:37 + topic_len].decode()
        value = frame[37 + topic_len:]
        if value[0] != 0x05:
            fail(f"expected a string on {topic}, got tag {value[0]}")
        length, at = read_varbyte(value, 1)
        return topic, value[at:at + length].decode()


def run(sock, tls12_only, listening):
    ctx = context(listening, tls12_only)
    try:
        tls = ctx.wrap_socket(sock, server_side=listening)
    except (ssl.SSLError, OSError) as e:
        fail(f"TLS handshake failed: {e}")
    cipher = tls.cipher()
    say(tls={"version": tls.version(), "cipher": cipher[0] if cipher else None,
             "peer_certificate": tls.getpeercert(binary_form=True) is not None})
    peer_id = handshake_as_listener(tls) if listening else handshake_as_connector(tls)
    say(peered=peer_id.hex())
    send_frame(tls, data_message("/rust/from-python", "hello from python"))
    topic, text = wait_for_data(tls)
    say(received={"topic": topic, "text": text})
    # Wait until the other side closes or the timeout hits, so the data we
    # sent is not cut off by a reset.
    try:
        while tls.recv(65536):
            pass
    except (OSError, ssl.SSLError):
        pass
    say(done=True)


def main():
    global OWN_ID
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["listen", "connect"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--id", required=True, help="16 bytes in hex: our endpoint id")
    parser.add_argument("--tls12-only", action="store_true")
    args = parser.parse_args()
    OWN_ID = bytes.fromhex(args.id)
    if len(OWN_ID) != 16:
        fail("--id must be 16 bytes")
    context(args.role == "listen", args.tls12_only)  # fail early (77) without AECDH
    if args.role == "listen":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(TIMEOUT)
        say(port=server.getsockname()[1])
        sock, _ = server.accept()
        server.close()
    else:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    run(sock, args.tls12_only, args.role == "listen")


if __name__ == "__main__":
    main()
