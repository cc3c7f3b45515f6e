#!/usr/bin/env python3
"""Checks the simulator against the calibration table (issue 19).

The table is schemas/calibration/experiments.toml (its header documents the format;
docs/simulator-calibration.md gives the sources). For every experiment with a scenario
in scenarios/calibration/ this runs `trw simulate` with reduced sensors (IR 8x8 at 1 Hz,
AE 8 kHz: the physics and the BMS line are unchanged), reads the observables back from
the session (the bms0 samples and the simulator's ground-truth annotations) and prints
one Markdown row per observable: reference | simulator | tolerance | within.

    python3 scripts/calibration-check.py [--trw .build/release/trw] [--out /tmp/cal]
                                         [--only ID,ID] [--reuse] [--validate-only]

--reuse reads sessions already in --out instead of simulating again. --validate-only
checks the table and the scenario files against each other and exits (1 on problems).
Observables the simulator does not report yet (e.g. cid_open, plateau_voltage_v,
internal_before_rupture_c) are printed as "not an output yet", never guessed.

How the observables are read from a session:
  SOC        start_soc of the scenario + coulomb count of the bms0 current (trapezoid)
  venting / runaway_onset / self_heating_onset
             the earliest simulator_ground_truth annotation of that label
             (runaway onset = GB 38031: dT/dt >= 1 degC/s for >= 3 s, see docs/simulator.md)
  surface temperature   the bms0 thermocouple T1 at that instant
  peak_voltage_v        max terminal voltage before the earlier of venting and onset
  voltage_drop_before_onset   V at onset is more than 50 mV below its max of the 120 s before
  supply_limit_reached  max voltage within 0.1 V of the scenario's supply_limit_v
  rupture, vent         a venting annotation exists (the simulator has one vent event)
  self_heating_onset_c  T1 at the self_heating_onset annotation (0.02 degC/min from the reactions)
An observable of an event that did not happen in the run is printed as "event not reached".
"""
import argparse
import bisect
import os
import sqlite3
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "schemas", "calibration", "experiments.toml")
SCENARIOS = os.path.join(ROOT, "scenarios", "calibration")

KINDS = {"overcharge", "heating", "arc"}
CHEMISTRIES = {"NCM", "LCO", "LFP"}
FORMATS = {"pouch", "prismatic", "cylindrical"}
CONDITION_KEYS = {"chemistry", "format", "cell", "capacity_ah", "c_rate", "c_rates_tested", "start_soc",
                  "ambient_c", "supply_limit_v", "protocol", "geometry_mm", "mass_kg"}
UNITS = {"V", "C", "s", "soc", "fraction", "bool"}
SOURCES = {"text", "secondary"}
RELATIONS = {"eq", "ge", "le"}
STANDARD = ["peak_voltage_v", "peak_voltage_soc", "plateau_voltage_v", "vent_soc", "vent_time_s",
            "vent_surface_c", "onset_soc", "onset_time_s", "onset_surface_c", "peak_surface_c", "runaway"]
EXTRA = ["vent", "rupture", "cid_open", "supply_limit_reached", "internal_before_rupture_c",
         "oxidation_acceleration_c", "voltage_drop_before_onset", "time_to_peak_s", "self_heating_onset_c",
         "anode_heat_share", "cathode_heat_share"]


def load_table(path=TABLE):
    with open(path, "rb") as f:
        return tomllib.load(f)["experiment"]


def merged_conditions(e):
    """What a scenario is built from: the source's conditions, then the assumed values."""
    c = {k: v for k, v in e.get("assumed", {}).items() if k != "why"}
    c.update(e.get("conditions", {}))
    return c


def validate(experiments, scenarios_dir=SCENARIOS):
    """Problems in the table and in its scenario files, each naming the experiment and key."""
    problems = []
    seen = set()
    for i, e in enumerate(experiments):
        eid = e.get("id", f"#{i}")
        p = lambda msg: problems.append(f"{eid}: {msg}")
        if eid in seen:
            p("duplicate id")
        seen.add(eid)
        for key in ("id", "citation", "doi", "used", "kind", "onset_definition"):
            if not isinstance(e.get(key), str):
                p(f"'{key}' missing or not a string")
        if e.get("kind") not in KINDS:
            p(f"kind {e.get('kind')!r} is not one of {sorted(KINDS)}")
        for table in ("conditions", "assumed"):
            for k in e.get(table, {}):
                if k not in CONDITION_KEYS and not (table == "assumed" and k == "why"):
                    p(f"unknown key '{table}.{k}'")
        overlap = (set(e.get("conditions", {})) & set(e.get("assumed", {}))) - {"why"}
        if overlap:
            p(f"keys both stated and assumed: {sorted(overlap)}")
        if set(e.get("assumed", {})) - {"why"} and not e.get("assumed", {}).get("why"):
            p("assumed values without 'why'")
        c = merged_conditions(e)
        if c.get("chemistry") not in CHEMISTRIES:
            p(f"chemistry {c.get('chemistry')!r} is not one of {sorted(CHEMISTRIES)}")
        if c.get("format") not in FORMATS:
            p(f"format {c.get('format')!r} is not one of {sorted(FORMATS)}")
        if not (isinstance(c.get("capacity_ah"), (int, float)) and c["capacity_ah"] > 0):
            p("capacity_ah missing or not > 0 (state it or assume it)")
        if e.get("kind") == "overcharge" and not (isinstance(c.get("c_rate"), (int, float)) and c["c_rate"] > 0):
            p("overcharge without c_rate > 0")
        unknown = e.get("unknown", [])
        for n in unknown:
            if n not in STANDARD + EXTRA:
                p(f"unknown observable name '{n}' in 'unknown'")
        obs = e.get("observable", [])
        if not obs:
            p("no observable")
        for o in obs:
            n = o.get("name", "?")
            q = lambda msg: p(f"observable {n}: {msg}")
            if n not in STANDARD + EXTRA:
                q("name is not a documented observable")
            if n in unknown:
                q("listed both as observed and as unknown")
            if o.get("source") not in SOURCES:
                q(f"source {o.get('source')!r} is not one of {sorted(SOURCES)}")
            if o.get("relation") not in RELATIONS:
                q(f"relation {o.get('relation')!r} is not one of {sorted(RELATIONS)}")
            if o.get("unit") not in UNITS:
                q(f"unit {o.get('unit')!r} is not one of {sorted(UNITS)}")
            for key in ("where", "tolerance_why"):
                if not (isinstance(o.get(key), str) and o[key].strip()):
                    q(f"'{key}' missing or empty")
            v, tol = o.get("value"), o.get("tolerance")
            if isinstance(v, bool):
                if o.get("unit") != "bool" or o.get("relation") != "eq" or tol != 0:
                    q("a boolean needs unit 'bool', relation 'eq' and tolerance 0")
            elif not isinstance(v, (int, float)):
                q("value is neither a number nor a boolean")
            elif not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and tol >= 0):
                q("tolerance missing or negative")
        path = os.path.join(scenarios_dir, f"{eid}.toml")
        if not os.path.exists(path):
            p(f"no scenario file {os.path.relpath(path, ROOT)}")
            continue
        with open(path, "rb") as f:
            sc = tomllib.load(f)
        want = {("cell", "chemistry"): c.get("chemistry"), ("cell", "capacity_ah"): c.get("capacity_ah"),
                ("cell", "format"): c.get("format"), ("protocol", "start_soc"): c.get("start_soc", 1.0),
                ("protocol", "supply_limit_v"): c.get("supply_limit_v", 12)}
        if e.get("kind") == "overcharge":
            want[("protocol", "c_rate")] = c.get("c_rate")
            want[("ambient", "temperature_c")] = c.get("ambient_c", 25)
        else:
            want[("protocol", "c_rate")] = 0.0
        for (section, key), value in want.items():
            got = sc.get(section, {}).get(key)
            if got != value:
                p(f"scenario {section}.{key} is {got!r}, the table says {value!r}")
        if sc.get("name") != eid:
            p(f"scenario name is {sc.get('name')!r}")
    if os.path.isdir(scenarios_dir):
        for f in sorted(os.listdir(scenarios_dir)):
            if f.endswith(".toml") and f[:-5] not in seen:
                problems.append(f"{f}: scenario without an experiment in the table")
    return problems


def observe(session, scenario):
    """Observables of one simulated run (see the module docstring for each definition)."""
    with open(scenario, "rb") as f:
        sc = tomllib.load(f)
    cap = sc["cell"]["capacity_ah"]
    soc0 = sc["protocol"].get("start_soc", 1.0)
    limit = sc["protocol"].get("supply_limit_v", 12)
    con = sqlite3.connect(f"file:{session}?mode=ro", uri=True)
    try:
        ann = dict(con.execute(
            "SELECT label, MIN(start_t_ns) FROM annotation WHERE method = 'simulator_ground_truth' AND deleted = 0 "
            "GROUP BY label").fetchall())
        rows = con.execute(
            "SELECT b.t_ns, b.voltage_v, b.current_a, b.cell_temp_c FROM bms_sample b JOIN stream s ON s.id = b.stream_id "
            "WHERE s.key = 'bms0' ORDER BY b.t_ns").fetchall()
    finally:
        con.close()
    if not rows:
        raise ValueError(f"{session}: no bms0 samples")
    ann = {k: v / 1e9 for k, v in ann.items()}
    t = [r[0] / 1e9 for r in rows]
    v = [r[1] for r in rows]
    i = [r[2] for r in rows]
    temp = [r[3] for r in rows]
    soc = [soc0]
    for k in range(1, len(t)):
        soc.append(soc[-1] + 0.5 * (i[k] + i[k - 1]) * (t[k] - t[k - 1]) / (cap * 3600))
    at = lambda x: min(len(t) - 1, bisect.bisect_left(t, x))
    o = {"runaway": "runaway_onset" in ann, "vent": "venting" in ann, "rupture": "venting" in ann}
    end = min([ann[label] for label in ("venting", "runaway_onset") if label in ann], default=t[-1])
    kp = max(range(at(end) + 1), key=lambda k: v[k])
    o["peak_voltage_v"], o["peak_voltage_soc"] = v[kp], soc[kp]
    for label, prefix in (("venting", "vent"), ("runaway_onset", "onset")):
        if label in ann:
            k = at(ann[label])
            o[f"{prefix}_time_s"], o[f"{prefix}_soc"], o[f"{prefix}_surface_c"] = ann[label], soc[k], temp[k]
    if "runaway_onset" in ann:
        k1, k0 = at(ann["runaway_onset"]), at(ann["runaway_onset"] - 120)
        o["voltage_drop_before_onset"] = v[k1] < max(v[k0:k1 + 1]) - 0.05
        o["max_voltage_before_onset_v"] = max(v[:k1 + 1])
    o["max_voltage_v"] = max(v)
    o["supply_limit_reached"] = max(v) >= limit - 0.1
    o["peak_surface_c"] = max(temp)
    o["time_to_peak_s"] = t[max(range(len(t)), key=lambda k: temp[k])]
    o["self_heating_onset_s"] = ann.get("self_heating_onset")
    if "self_heating_onset" in ann:
        o["self_heating_onset_c"] = temp[at(ann["self_heating_onset"])]
    # observables of events that did not happen in this run (printed as such, not as unsupported)
    o["not_reached"] = ({f"vent_{x}" for x in ("time_s", "soc", "surface_c")} if "venting" not in ann else set()) \
        | ({f"onset_{x}" for x in ("time_s", "soc", "surface_c")} if "runaway_onset" not in ann else set()) \
        | ({"self_heating_onset_c"} if "self_heating_onset" not in ann else set())
    o["duration_s"] = t[-1]
    return o


def within(ref, value):
    rel, target, tol = ref["relation"], ref["value"], ref["tolerance"]
    if isinstance(target, bool):
        return value == target
    if rel == "eq":
        return abs(value - target) <= tol
    if rel == "ge":
        return value >= target - tol
    return value <= target + tol


def fmt(value, unit):
    if isinstance(value, bool):
        return "yes" if value else "no"
    suffix = {"C": " °C", "V": " V", "s": " s"}.get(unit, "")
    return f"{value:.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def rows_for(e, o):
    out = []
    for ref in e.get("observable", []):
        prefix = {"ge": ">= ", "le": "<= "}.get(ref["relation"], "")
        tol = "—" if isinstance(ref["value"], bool) else "± " + fmt(ref["tolerance"], ref["unit"])
        value = o.get(ref["name"])
        if value is None and ref["name"] in o.get("not_reached", ()):
            sim, ok = "event not reached", "**no**"
        elif value is None:
            sim, ok = "not an output yet", "—"
        else:
            sim, ok = fmt(value, ref["unit"]), "yes" if within(ref, value) else "**no**"
        out.append(f"| `{e['id']}` | {ref['name']} | {prefix}{fmt(ref['value'], ref['unit'])} ({ref['source']}) | {sim} | {tol} | {ok} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trw", default=os.path.join(ROOT, ".build", "release", "trw"))
    ap.add_argument("--out", default="/tmp/trw-calibration")
    ap.add_argument("--only", default="", help="comma-separated experiment ids")
    ap.add_argument("--reuse", action="store_true", help="read existing sessions in --out")
    ap.add_argument("--validate-only", action="store_true")
    args = ap.parse_args()
    experiments = load_table()
    problems = validate(experiments)
    for p in problems:
        print(f"calibration table: {p}", file=sys.stderr)
    if args.validate_only or problems:
        sys.exit(1 if problems else 0)
    only = {x for x in args.only.split(",") if x}
    unknown = only - {e["id"] for e in experiments}
    if unknown:
        sys.exit(f"--only: no experiment {sorted(unknown)} in {os.path.relpath(TABLE, ROOT)}")
    if not args.reuse and not os.access(args.trw, os.X_OK):
        sys.exit(f"--trw {args.trw}: not an executable (build trw first, or pass --reuse)")
    os.makedirs(args.out, exist_ok=True)
    print("| experiment | observable | reference (source) | simulator | tolerance | within |")
    print("|---|---|---|---|---|---|")
    for e in experiments:
        if only and e["id"] not in only:
            continue
        scenario = os.path.join(SCENARIOS, f"{e['id']}.toml")
        session = os.path.join(args.out, f"{e['id']}.sqlite")
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(session + suffix):
                    os.remove(session + suffix)
            r = subprocess.run([args.trw, "simulate", scenario, "--ir-width", "8", "--ir-height", "8", "--ir-fps", "1",
                                "--ae-rate", "8000", "--max", "--out", session], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"trw simulate {scenario} failed ({r.returncode}): {r.stderr.strip()}")
        if not os.path.exists(session):
            print(f"| `{e['id']}` | (no session in {args.out}) | | | | |")
            continue
        for row in rows_for(e, observe(session, scenario)):
            print(row, flush=True)


if __name__ == "__main__":
    main()
