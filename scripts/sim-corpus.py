#!/usr/bin/env python3
"""Builds a corpus of simulated runs for training and scoring the detectors.

Two sources of scenario files, both written under OUT/scenarios/:

* variants: each base scenario in scenarios/ is varied N times (--variants; charge
  rate, ambient, cooling, cell resistance, separator failure temperature, hotspot
  place and strength, noise seed), drawn from --seed;
* sampled: --sampled M files drawn by `trw scenario sample --n M --seed
  --sample-seed` from the documented scenario-space distributions (chemistry,
  format, capacity, protocol, chamber, cooling, defects, sensor quality, negative
  controls of many kinds; docs/simulator.md, "Scenario sampler"), optionally with
  --distributions FILE.

Each file is simulated with reduced sensor sizes (IR 64x48 at 2 Hz, AE 96 kHz:
the models see downsampled data anyway), and everything is exported into
OUT/corpus.npz (1 Hz ticks, IR 64x48, AE STFT 32 bins).

The defaults rebuild the documented corpus (/work/corpus/main: 7 base scenarios x
5 variants = 35 runs, seed 2026, no sampled runs; docs/multimodal.md):

    python3 scripts/sim-corpus.py --out /tmp/corpus [--trw .build/release/trw]

A corpus over the whole scenario space, e.g. 200 sampled runs and no variants:

    python3 scripts/sim-corpus.py --out /tmp/corpus-s --variants 0 --sampled 200 --sample-seed 1

--dry-run writes the scenario files and OUT/variants.json only. The variant
parameters are recorded in OUT/variants.json (sampled runs: their kind and drawn
parameters from OUT/scenarios/samples.json); splits by run happen in the models
(trw_models.data.split_runs), never here.
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


def simulate(trw, path, out):
    if not os.path.exists(out):
        t0 = time.time()
        subprocess.run([trw, "simulate", path, "--out", out, "--ir-fps", "2", "--ir-width", "64",
                        "--ir-height", "48", "--ae-rate", "96000"], check=True, stdout=subprocess.DEVNULL)
        print(f"{os.path.basename(path)[:-5]}: {time.time() - t0:.1f} s", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--variants", type=int, default=5,
                   help="variants per base scenario (default 5: the documented 35-run corpus)")
    p.add_argument("--trw", default=os.path.join(ROOT, ".build", "release", "trw"))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--scenarios", default="ncm_overcharge_05c,lco_overcharge_1c,lfp_overcharge_1c,demo,"
                   "control_charge_rest,control_mild_overcharge_stopped,control_ambient_heating")
    p.add_argument("--sampled", type=int, default=0,
                   help="scenario files drawn by `trw scenario sample` (default 0)")
    p.add_argument("--sample-seed", type=int, default=1, help="seed of `trw scenario sample` (default 1)")
    p.add_argument("--distributions", help="distributions file for `trw scenario sample`")
    p.add_argument("--dry-run", action="store_true", help="write the scenario files only, simulate nothing")
    a = p.parse_args()
    if a.variants < 0 or a.sampled < 0 or a.variants + a.sampled == 0:
        p.error("--variants and --sampled must be >= 0 and give at least one run")
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "scenarios"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "sessions"), exist_ok=True)
    variants, sessions = {}, []
    for base in a.scenarios.split(","):
        text = open(os.path.join(ROOT, "scenarios", base + ".toml")).read()
        if a.variants > 0 and "[[protocol.step]]" in text:
            sys.exit(f"{base}: --variants jitters the single-step [protocol] form; "
                     "this file uses [[protocol.step]] (use --sampled for such scenarios)")
        for i in range(a.variants):
            name = f"{base}_v{i}"
            toml, chosen = vary(text, rng, name, rng.randrange(1, 1 << 30))
            path = os.path.join(a.out, "scenarios", name + ".toml")
            open(path, "w").write(toml)
            out = os.path.join(a.out, "sessions", name + ".sqlite")
            variants[name] = {"base": base, **chosen}
            if not a.dry_run:
                simulate(a.trw, path, out)
            sessions.append(out)
    if a.sampled > 0:
        cmd = [a.trw, "scenario", "sample", "--n", str(a.sampled), "--seed", str(a.sample_seed),
               "--out", os.path.join(a.out, "scenarios")]
        if a.distributions:
            cmd += ["--distributions", a.distributions]
        subprocess.run(cmd, check=True)
        drawn = json.load(open(os.path.join(a.out, "scenarios", "samples.json")))
        for d in drawn["scenarios"]:
            name = d["name"]
            variants[name] = {"base": "sampled", "sample_seed": a.sample_seed, **d}
            out = os.path.join(a.out, "sessions", name + ".sqlite")
            if not a.dry_run:
                simulate(a.trw, os.path.join(a.out, "scenarios", name + ".toml"), out)
            sessions.append(out)
    json.dump(variants, open(os.path.join(a.out, "variants.json"), "w"), indent=1)
    if a.dry_run:
        print(f"wrote {len(sessions)} scenario files to {os.path.join(a.out, 'scenarios')} (dry run)")
        return 0
    subprocess.run([a.trw, "export", *sessions, "--out", os.path.join(a.out, "corpus.npz"), "--rate", "1",
                    "--ir-frames", "64x48", "--ae-stft", "32", "--label-method", "simulator_ground_truth"], check=True)
    print(f"wrote {os.path.join(a.out, 'corpus.npz')} from {len(sessions)} runs")


if __name__ == "__main__":
    sys.exit(main())
