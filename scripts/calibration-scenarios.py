#!/usr/bin/env python3
"""Writes scenarios/calibration/ID.toml for every experiment of the calibration table.

Each scenario is built from the experiment's conditions in
schemas/calibration/experiments.toml, then its assumed values; what neither gives is a
simulator-side choice made here and written as a comment into the file:

  * face size of pouch/prismatic cells without stated dimensions (GEOMETRY_MM below);
  * a cylinder of diameter D and height H becomes the thin plate with the same volume
    and volume-to-surface ratio: pi*D/2 x H x D/2 (the simulator has no cylinder yet);
  * resistance 60/capacity mOhm and vent gas 2.5 mmol/Ah (the scaling of the existing
    2 Ah and 20 Ah scenarios); separator, hotspot and thermal data as in scenarios/*.toml;
  * heating: chamber ramp 25 -> 250 degC at 2 degC/min; ARC: no convection, no radiation;
  * expect_runaway from the runaway (else rupture) observable, else EXPECT below;
  * duration cap: overcharge until 300 % SOC; heating 4 h; ARC 6 h;
  * seed = 101 + position in the table (append new experiments at the end).

    python3 scripts/calibration-scenarios.py           # write the files
    python3 scripts/calibration-scenarios.py --check   # exit 1 if a file differs or is missing
"""
import argparse
import math
import os
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "schemas", "calibration", "experiments.toml")
OUT = os.path.join(ROOT, "scenarios", "calibration")

# width, height, thickness (mm) where the source gives no dimensions: simulator-side choices
GEOMETRY_MM = {
    "leising2001_lco_prismatic_high_rate": (60, 40, 6),
    "leising2001_lco_prismatic_low_rate": (60, 40, 6),
    "ohsaki2005_lco_650mah": (34, 48, 5),
    "zhu2019_ncm622_pouch": (200, 100, 12),
    "mao2022_ncm622": (120, 70, 8),
    "tian2025_lfp_prismatic_1p5c_5c": (150, 100, 27),
    "es_lfp_100ah_0p5c_to_20v": (200, 130, 36),
    "batteries2022_nmc_pouch_heating_plug": (283, 141, 12),
    "batteries2022_nmc_pouch_heating_plate": (283, 141, 12),
    "es_lfp_external_heating": (200, 130, 36),
    "es_ncm523_external_heating": (200, 130, 36),
    "mao2023_arc_overcharged_165soc": (120, 70, 8),
    "mao2023_arc_overcharged_120soc": (120, 70, 8),
    "jps2008_lco_pouch_1ah_1c": (60, 45, 4),
    "jps2008_lco_pouch_1ah_3c": (60, 45, 4),
}
# expect_runaway where the table has no runaway/rupture observable, with the reason
EXPECT = {
    "mj1_18650_cid_1c": (False, "the test ends when the CID opens; no runaway reported"),
    "es_lfp_100ah_0p5c_to_20v": (True, "the DP-LSTM paper's 0.5C energy-storage overcharge ran until the cells "
                                       "burst or caught fire (issue 19); this source itself reports no outcome"),
}


def scenario_text(e, position):
    c = {k: v for k, v in e.get("assumed", {}).items() if k != "why"}
    c.update(e.get("conditions", {}))
    eid, kind = e["id"], e["kind"]
    chem, cap, fmt = c["chemistry"], c["capacity_ah"], c["format"]
    notes = []
    if fmt == "cylindrical":
        dia, h = c["geometry_mm"]
        r = dia / 2
        w, hh, t = round(math.pi * r, 1), h, r
        notes.append(f"cylindrical {dia}x{h} mm mapped to the thin plate with the same volume and volume-to-surface "
                     f"ratio: {w} x {hh} x {t} mm (the simulator has no cylinder, CID or vent disc yet)")
    elif "geometry_mm" in c:
        w, hh, t = c["geometry_mm"]
    else:
        if eid not in GEOMETRY_MM:
            raise KeyError(f"{eid}: no geometry in the table; add a simulator-side choice to GEOMETRY_MM")
        w, hh, t = GEOMETRY_MM[eid]
        notes.append(f"face {w} x {hh} x {t} mm is a simulator-side choice (the source gives no dimensions)")
    rate = c.get("c_rate", 0.0) if kind == "overcharge" else 0.0
    soc, amb, lim = c.get("start_soc", 1.0), c.get("ambient_c", 25), c.get("supply_limit_v", 12)
    obs = {o["name"]: o["value"] for o in e.get("observable", [])}
    if "runaway" in obs:
        expect = obs["runaway"]
    elif "rupture" in obs:
        expect = obs["rupture"]
    elif eid in EXPECT:
        expect, why = EXPECT[eid]
        notes.append(f"expect_runaway = {'true' if expect else 'false'}: {why}")
    else:
        raise KeyError(f"{eid}: no runaway/rupture observable; add the expected outcome to EXPECT")
    if kind == "overcharge":
        duration = min(1e6, round((3.0 - soc) / rate * 3600))
    else:
        duration = 6 * 3600 if kind == "arc" else 4 * 3600
    desc = f"Calibration: {e['citation']} ({kind}); see docs/simulator-calibration.md#{eid}"
    lines = [f"# {desc}",
             "# Generated from schemas/calibration/experiments.toml (conditions + assumed) by "
             "scripts/calibration-scenarios.py; observables and tolerances live there."]
    lines += [f"# {n}" for n in notes]
    if kind == "heating":
        lines.append("# Heating is approximated by a chamber ramp (the simulator has no plug/plate heater yet): "
                     "25 -> 250 degC at 2 degC/min, a simulator-side choice.")
    if kind == "arc":
        lines.append("# ARC (adiabatic) approximated by zero convection and zero emissivity, no current, from 25 degC; "
                     "the ARC heat-wait-seek steps are not modelled.")
    lines.append("# Resistance 60/capacity mOhm and vent gas 2.5 mmol/Ah follow the scaling of the existing 2 Ah and "
                 "20 Ah scenarios (assumed).")
    lines += [f'name = "{eid}"', f'description = "{desc}"', f"seed = {101 + position}",
              f"expect_runaway = {'true' if expect else 'false'}", "",
              "[cell]", f'chemistry = "{chem}"', f"capacity_ah = {cap}", f'format = "{fmt}"',
              f"width_mm = {w}", f"height_mm = {hh}", f"thickness_mm = {t}",
              "density_kg_m3 = 2500", "heat_capacity_j_kg_k = 1100", "conductivity_w_m_k = 20",
              f"emissivity = {0.0 if kind == 'arc' else 0.9}", f"resistance_mohm = {round(60 / cap, 3)}",
              "separator_failure_c = 150", "short_resistance_ohm = 1.0", f"vent_gas_mmol = {round(2.5 * cap, 3)}",
              "hotspot = [0.62, 0.40]", "hotspot_strength = 0.5", "",
              "[ambient]", f"temperature_c = {amb if kind == 'overcharge' else 25}",
              f"convection_w_m2_k = {0 if kind == 'arc' else 10}"]
    if kind == "heating":
        lines += ["ramp_to_c = 250", "ramp_c_per_min = 2"]
    lines += ["", "[protocol]", f"c_rate = {rate}", f"start_soc = {soc}", f"supply_limit_v = {lim}", "",
              "[grid]", "nx = 64", "ny = 48", "step_s = 0.1", "",
              "[sensors.ir]", "width = 160", "height = 120", "fps = 1", "",
              "[sensors.ae]", "rate_hz = 48000", "channels = 1", 'format = "S16_LE"', "",
              "[sensors.bms]", "rate_hz = 1", "",
              "[run]", f"duration_cap_s = {duration}", "stop_after_peak_s = 30"]
    return "\n".join(lines) + "\n"


def all_scenarios(table=TABLE):
    with open(table, "rb") as f:
        experiments = tomllib.load(f)["experiment"]
    return {e["id"]: scenario_text(e, k) for k, e in enumerate(experiments)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = ap.parse_args()
    stale = []
    for eid, text in all_scenarios().items():
        path = os.path.join(OUT, f"{eid}.toml")
        if args.check:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(os.path.relpath(path, ROOT))
        else:
            os.makedirs(OUT, exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
    for p in stale:
        print(f"{p}: differs from what scripts/calibration-scenarios.py generates (run it)", file=sys.stderr)
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
