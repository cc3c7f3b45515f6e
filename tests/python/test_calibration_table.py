"""The calibration table (schemas/calibration/experiments.toml) and its scenarios agree, the
validator names what is wrong, and scripts/calibration-check.py reads the observables of a
session correctly (a session written with sqlite3 alone, so the expected values do not come
from trw)."""
import copy
import importlib.util
import os
import shutil
import sqlite3
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("calcheck", os.path.join(ROOT, "scripts", "calibration-check.py"))
calcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(calcheck)


def test_table_and_scenarios_agree():
    experiments = calcheck.load_table()
    assert len(experiments) >= 8
    assert calcheck.validate(experiments) == []
    chems = {calcheck.merged_conditions(e)["chemistry"] for e in experiments}
    formats = {calcheck.merged_conditions(e)["format"] for e in experiments}
    assert {"NCM", "LCO", "LFP"} <= chems and "cylindrical" in formats
    # every number is marked as read from the paper or from a secondary page
    assert {o["source"] for e in experiments for o in e["observable"]} <= {"text", "secondary"}


def test_validate_names_experiment_and_key():
    experiments = copy.deepcopy(calcheck.load_table())
    e = experiments[0]
    del e["observable"][0]["source"]
    e["observable"][0]["tolerance"] = -1
    e["conditions"]["colour"] = "red"
    e["unknown"].append(e["observable"][0]["name"])
    with tempfile.TemporaryDirectory() as d:
        for x in experiments:
            shutil.copy(os.path.join(calcheck.SCENARIOS, f"{x['id']}.toml"), d)
        path = os.path.join(d, f"{experiments[1]['id']}.toml")
        text = open(path).read()
        open(path, "w").write(text.replace("start_soc = ", "start_soc = 0.5 #", 1))
        open(os.path.join(d, "stray.toml"), "w").write('name = "stray"\n')
        problems = calcheck.validate(experiments, scenarios_dir=d)
    eid, name = e["id"], e["observable"][0]["name"]
    assert f"{eid}: observable {name}: source None is not one of ['secondary', 'text']" in problems
    assert any(p.startswith(f"{eid}: observable {name}: listed both as observed and as unknown") for p in problems)
    assert f"{eid}: unknown key 'conditions.colour'" in problems
    assert any(p.startswith(f"{experiments[1]['id']}: scenario protocol.start_soc is 0.5") for p in problems)
    assert "stray.toml: scenario without an experiment in the table" in problems
    # a boolean observable with a tolerance is refused
    assert any("tolerance" in p for p in problems if p.startswith(f"{eid}: observable {name}"))


def write_session(path, samples, annotations):
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE stream (id INTEGER PRIMARY KEY, key TEXT);"
        "CREATE TABLE bms_sample (id INTEGER PRIMARY KEY, stream_id INTEGER, t_ns INTEGER, voltage_v REAL,"
        " current_a REAL, cell_temp_c REAL);"
        "CREATE TABLE annotation (id INTEGER PRIMARY KEY, label TEXT, start_t_ns INTEGER, method TEXT, deleted INTEGER);"
        "INSERT INTO stream VALUES (1, 'bms0'), (2, 'bms1');")
    con.executemany("INSERT INTO bms_sample (stream_id, t_ns, voltage_v, current_a, cell_temp_c) VALUES (?,?,?,?,?)", samples)
    con.executemany("INSERT INTO annotation (label, start_t_ns, method, deleted) VALUES (?,?,?,?)", annotations)
    con.commit()
    con.close()


def test_observe_reads_soc_events_and_voltage():
    scenario = os.path.join(calcheck.SCENARIOS, "zhu2019_ncm622_pouch.toml")  # 20 Ah, start 100 %, 12 V limit
    s = 1_000_000_000
    samples = []
    for k in range(0, 3001):  # 1 Hz, 20 A (1C): +1 % SOC every 36 s
        v = 4.2 + 0.0004 * k if k <= 2000 else 4.2 + 0.8 - 0.002 * (k - 2000)  # peak 5.0 V at 2000 s, then falls
        samples.append((1, k * s, v, 20.0, 25.0 + 0.05 * k))
    samples.append((2, 10 * s, 99.0, 0.0, 999.0))  # another BMS stream: ignored
    annotations = [("venting", 1800 * s, "simulator_ground_truth", 0),
                   ("runaway_onset", 2700 * s, "simulator_ground_truth", 0),
                   ("runaway_onset", 100 * s, "manual", 0),                  # a person's label: ignored
                   ("venting", 50 * s, "simulator_ground_truth", 1)]         # deleted: ignored
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.sqlite")
        write_session(path, samples, annotations)
        o = calcheck.observe(path, scenario)
    assert o["runaway"] and o["vent"] and o["rupture"]
    assert o["vent_time_s"] == 1800 and o["onset_time_s"] == 2700
    assert o["vent_soc"] == pytest.approx(1.0 + 1800 / 3600, abs=1e-9)
    assert o["onset_soc"] == pytest.approx(1.75, abs=1e-9)
    assert o["vent_surface_c"] == pytest.approx(25 + 0.05 * 1800)
    # peak before the earlier event (venting at 1800 s), not the later 5.0 V
    assert o["peak_voltage_v"] == pytest.approx(4.2 + 0.0004 * 1800)
    assert o["max_voltage_before_onset_v"] == pytest.approx(5.0)
    assert o["voltage_drop_before_onset"] is True
    assert o["supply_limit_reached"] is False
    assert o["peak_surface_c"] == pytest.approx(25 + 0.05 * 3000) and o["time_to_peak_s"] == 3000
    assert o["not_reached"] == {"self_heating_onset_c"}
    ref = {"name": "self_heating_onset_c", "value": 31.7, "relation": "eq", "tolerance": 10, "unit": "C", "source": "text"}
    assert calcheck.rows_for({"id": "y", "observable": [ref]}, o) == \
        ["| `y` | self_heating_onset_c | 31.70 °C (text) | event not reached | ± 10 °C | **no** |"]


def test_within_and_rows():
    ref = {"name": "peak_voltage_v", "value": 4.8, "relation": "eq", "tolerance": 0.1, "unit": "V", "source": "text"}
    assert calcheck.within(ref, 4.89) and not calcheck.within(ref, 4.91)
    assert calcheck.within(dict(ref, relation="ge"), 4.71) and not calcheck.within(dict(ref, relation="ge"), 4.69)
    assert calcheck.within(dict(ref, relation="le"), 4.89) and not calcheck.within(dict(ref, relation="le"), 4.91)
    e = {"id": "x", "observable": [ref, dict(ref, name="cid_open", value=True, unit="bool", tolerance=0)]}
    rows = calcheck.rows_for(e, {"peak_voltage_v": 5.1})
    assert rows == ["| `x` | peak_voltage_v | 4.80 V (text) | 5.10 V | ± 0.10 V | **no** |",
                    "| `x` | cid_open | yes (text) | not an output yet | — | — |"]


spec_gen = importlib.util.spec_from_file_location("calscen", os.path.join(ROOT, "scripts", "calibration-scenarios.py"))
calscen = importlib.util.module_from_spec(spec_gen)
spec_gen.loader.exec_module(calscen)


def test_scenario_files_are_generated_from_the_table():
    generated = calscen.all_scenarios()
    on_disk = {f[:-5] for f in os.listdir(calcheck.SCENARIOS) if f.endswith(".toml")}
    assert set(generated) == on_disk
    for eid, text in generated.items():
        assert open(os.path.join(calcheck.SCENARIOS, f"{eid}.toml")).read() == text, eid


def test_cylinder_maps_to_equal_volume_and_surface_ratio_plate():
    e = {"id": "cyl", "kind": "overcharge", "citation": "c", "observable": [{"name": "runaway", "value": False}],
         "conditions": {"chemistry": "NCM", "format": "cylindrical", "capacity_ah": 3.0, "c_rate": 1.0,
                        "geometry_mm": [18, 65]}}
    text = calscen.scenario_text(e, 0)
    import tomllib
    cell = tomllib.loads(text)["cell"]
    w, h, t = cell["width_mm"], cell["height_mm"], cell["thickness_mm"]
    volume, radius = 3.141592653589793 * 9 ** 2 * 65, 9
    assert w * h * t == pytest.approx(volume, rel=2e-3)   # same volume (width rounded to 0.1 mm)
    assert t / 2 == pytest.approx(radius / 2)              # plate V/A = t/2, cylinder V/A (lateral) = r/2
    assert tomllib.loads(text)["run"]["duration_cap_s"] == 7200  # until 300 % SOC at 1C from 100 %
