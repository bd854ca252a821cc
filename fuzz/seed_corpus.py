#!/usr/bin/env python3
"""Builds the seed corpora in fuzz/corpus/ from testdata/broker-vectors/*.jsonl.

* bin_decode, zeek_message: every bin v1 value in the vectors (the
  `*bin_v1_hex` fields, including invalid and lenient inputs), hex-decoded.
* zeromq_frames: every message of testdata/zeek-zeromq/*.jsonl, framed as
  the target reads it, and every captured log batch alone.
* json_decode: every JSON v1 text (`json_v1_text`, `reencoded_json_v1_text`,
  `value_json_v1_text`, `json_v1_data_message_text`) and the raw bytes of
  `json_v1_hex`.

Files are named by the SHA-1 of their content, as libFuzzer names its own
corpus entries, so re-running the script adds nothing twice. Existing files
are kept (the corpora also hold what fuzzing found).

Usage: python3 fuzz/seed_corpus.py
"""

import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "testdata", "broker-vectors")
ZEROMQ = os.path.join(HERE, "..", "testdata", "zeek-zeromq")
CORPUS = os.path.join(HERE, "corpus")

BIN_KEYS = {
    "bin_v1_hex",
    "decoded_reencoded_bin_v1_hex",
    "json_v1_decodes_to_bin_v1_hex",
    "value_bin_v1_hex",
}
JSON_TEXT_KEYS = {
    "json_v1_text",
    "reencoded_json_v1_text",
    "value_json_v1_text",
    "json_v1_data_message_text",
}
JSON_HEX_KEYS = {"json_v1_hex"}


def walk(obj, bins, jsons):
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str):
                if key in BIN_KEYS:
                    bins.add(bytes.fromhex(value))
                elif key in JSON_TEXT_KEYS:
                    jsons.add(value.encode("utf-8"))
                elif key in JSON_HEX_KEYS:
                    jsons.add(bytes.fromhex(value))
            walk(value, bins, jsons)
    elif isinstance(obj, list):
        for value in obj:
            walk(value, bins, jsons)


def write(target, seeds):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    added = 0
    for seed in sorted(seeds):
        path = os.path.join(directory, hashlib.sha1(seed).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(seed)
            added += 1
    print(f"{target}: {len(seeds)} seeds, {added} new")


def main():
    bins, jsons = set(), set()
    for path in sorted(glob.glob(os.path.join(VECTORS, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    walk(json.loads(line), bins, jsons)
    write("bin_decode", bins)
    write("zeek_message", bins)
    write("json_decode", jsons)
    write("zeromq_frames", zeromq_seeds())


def zeromq_seeds():
    """Every captured ZeroMQ message as the zeromq_frames target reads it
    (each frame a 2-byte big-endian length and its bytes), and every
    captured log batch on its own."""
    seeds = set()
    for path in sorted(glob.glob(os.path.join(ZEROMQ, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                capture = json.loads(line)
                frames = [bytes.fromhex(x) for x in capture["frames_hex"]]
                seeds.add(b"".join(len(x).to_bytes(2, "big") + x for x in frames))
                if capture["socket"] == "push" and len(frames) == 4:
                    seeds.add(frames[3])
    return seeds


if __name__ == "__main__":
    main()
