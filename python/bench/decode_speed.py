"""Decode speed of the Python reader (trw._codec) beside trw's own Swift decoder, on the same
frames, in the same run (`make bench`; issue 21: the reader must reach at least half of trw's
speed). Records a simulated session with the given trw binary (640x480 frames, the recorder's
default codec), then alternates rounds: `trw raw-frames --passes P` (Swift: reads the payloads,
then times P decode passes with checksums verified) and P Python passes over the same payloads
(checksums verified, a new array per frame). Reports the fastest pass of each.

    python3 python/bench/decode_speed.py [--trw .build/release/trw] [--seconds 10] [--rounds 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import trw
from trw import _codec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trw", default=os.path.join(ROOT, ".build", "release", "trw"), help="trw binary (default: the release build)")
    ap.add_argument("--session", help="an existing session to decode (default: record a simulated one)")
    ap.add_argument("--seconds", type=float, default=10, help="simulated seconds at 10 frames/s (1...600)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating Swift/Python rounds (1...20)")
    ap.add_argument("--passes", type=int, default=2, help="decode passes per round (1...20)")
    ap.add_argument("--min-ratio", type=float, default=0.5, help="exit 1 below this Python/Swift ratio")
    a = ap.parse_args()
    a.trw = os.path.abspath(a.trw)
    for name, v, lo, hi in (("--seconds", a.seconds, 1, 600), ("--rounds", a.rounds, 1, 20), ("--passes", a.passes, 1, 20)):
        if not lo <= v <= hi:
            ap.error(f"{name} must be {lo}...{hi}; got {v}")
    if not os.access(a.trw, os.X_OK):
        sys.exit(f"decode_speed: {a.trw} is not built (make bench builds it: swift build -c release --product trw)")
    with tempfile.TemporaryDirectory() as d:
        path = a.session
        if path is None:
            path = os.path.join(d, "bench.sqlite")
            subprocess.run([a.trw, "simulate", "demo", "--max", "--duration", str(a.seconds), "--ir-fps", "10",
                            "--ae-rate", "48000", "--out", path], cwd=d, check=True, capture_output=True)
        with trw.open(path) as s:
            st = s.streams[s.streams["kind"] == "thermal"].iloc[0]
            w, h = int(st["width"]), int(st["height"])
            ids, _, codecs, payloads = s.frame_payloads(st["key"])
        swift_best, py_best = 0.0, 0.0
        for _ in range(a.rounds):
            r = json.loads(subprocess.run([a.trw, "raw-frames", path, "--stream", st["key"], "--passes", str(a.passes)],
                                          check=True, capture_output=True, text=True).stdout)
            swift_best = max(swift_best, r["frames_per_s"])
            for _ in range(a.passes):
                t0 = time.perf_counter()
                for c, p in zip(codecs, payloads):
                    _codec.decode_frame_into(p, c, w, h, np.empty((h, w), dtype=np.uint16))
                py_best = max(py_best, len(payloads) / (time.perf_counter() - t0))
    ratio = py_best / swift_best
    print(f"decode {len(payloads)} {w}x{h} frames ({', '.join(sorted(set(codecs)))}, libzstd {_codec.zstd_version()}), "
          f"fastest of {a.rounds}x{a.passes} passes each, same run:")
    print(f"  trw (Swift)          {swift_best:8.1f} frames/s")
    print(f"  trw Python reader    {py_best:8.1f} frames/s")
    verdict = "ok" if ratio >= a.min_ratio else f"BELOW the target of {a.min_ratio}"
    print(f"  ratio Python/Swift   {ratio:8.2f}  ({verdict})")
    sys.exit(0 if ratio >= a.min_ratio else 1)


if __name__ == "__main__":
    main()
