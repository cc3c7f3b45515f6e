#!/usr/bin/env python3
"""Builds a corpus of simulated runs for training and scoring the detectors.

Each base scenario in scenarios/ is varied N times (charge rate, ambient, cooling,
cell resistance, separator failure temperature, hotspot place and strength, noise
seed) into scenario files under OUT/scenarios/, each is simulated with reduced
sensor sizes (IR 64x48 at 2 Hz, AE 96 kHz: the models see downsampled data anyway),
and everything is exported into OUT/corpus.npz (1 Hz ticks, IR 64x48, AE STFT 32 bins).

    python3 scripts/sim-corpus.py --out /tmp/corpus --variants 6 [--trw .build/release/trw]

The variant parameters are recorded in OUT/variants.json; splits by run happen in
the models (trw_models.data.split_runs), never here.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (section, key, relative or absolute jitter)
JITTER = [
    ("protocol", "c_rate", ("rel", 0.35)),
    ("ambient", "temperature_c", ("abs", 8.0)),
    ("ambient", "convection_w_m2_k", ("rel", 0.4)),
    ("cell", "resistance_mohm", ("rel", 0.3)),
    ("cell", "separator_failure_c", ("abs", 12.0)),
    ("cell", "hotspot_strength", ("rel", 0.5)),
    ("cell", "short_resistance_ohm", ("rel", 0.4)),
]


def vary(text: str, rng: random.Random, name: str, seed: int):
    section = None
    out, chosen = [], {}
    for line in text.splitlines():
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        kv = re.match(r"^(\w+)\s*=\s*(.+)$", line)
        if kv and section is None and kv.group(1) == "name":
            line = f'name = "{name}"'
        elif kv and section is None and kv.group(1) == "seed":
            line = f"seed = {seed}"
        elif kv and section is not None:
            key, val = kv.group(1), kv.group(2).strip()
            for s, k, (mode, amount) in JITTER:
                if s == section and k == key:
                    try:
                        v = float(val)
                    except ValueError:
                        break
                    v = v * (1 + rng.uniform(-amount, amount)) if mode == "rel" else v + rng.uniform(-amount, amount)
                    line = f"{key} = {v:.6g}"
                    chosen[f"{s}.{k}"] = round(v, 6)
            if section == "cell" and key == "hotspot":
                hx, hy = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75)
                line = f"hotspot = [{hx:.3f}, {hy:.3f}]"
                chosen["cell.hotspot"] = [round(hx, 3), round(hy, 3)]
        out.append(line)
    return "\n".join(out) + "\n", chosen


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--variants", type=int, default=6, help="variants per base scenario (default 6)")
    p.add_argument("--trw", default=os.path.join(ROOT, ".build", "release", "trw"))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--scenarios", default="ncm_overcharge_05c,lco_overcharge_1c,lfp_overcharge_1c,demo,"
                   "control_charge_rest,control_mild_overcharge_stopped,control_ambient_heating")
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "scenarios"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "sessions"), exist_ok=True)
    variants, sessions = {}, []
    for base in a.scenarios.split(","):
        text = open(os.path.join(ROOT, "scenarios", base + ".toml")).read()
        for i in range(a.variants):
            name = f"{base}_v{i}"
            toml, chosen = vary(text, rng, name, rng.randrange(1, 1 << 30))
            path = os.path.join(a.out, "scenarios", name + ".toml")
            open(path, "w").write(toml)
            out = os.path.join(a.out, "sessions", name + ".sqlite")
            variants[name] = {"base": base, **chosen}
            if not os.path.exists(out):
                t0 = time.time()
                subprocess.run([a.trw, "simulate", path, "--out", out, "--ir-fps", "2", "--ir-width", "64",
                                "--ir-height", "48", "--ae-rate", "96000"], check=True, stdout=subprocess.DEVNULL)
                print(f"{name}: {time.time() - t0:.1f} s", flush=True)
            sessions.append(out)
    json.dump(variants, open(os.path.join(a.out, "variants.json"), "w"), indent=1)
    subprocess.run([a.trw, "export", *sessions, "--out", os.path.join(a.out, "corpus.npz"), "--rate", "1",
                    "--ir-frames", "64x48", "--ae-stft", "32", "--label-method", "simulator_ground_truth"], check=True)
    print(f"wrote {os.path.join(a.out, 'corpus.npz')} from {len(sessions)} runs")


if __name__ == "__main__":
    sys.exit(main())
