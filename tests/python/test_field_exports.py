"""`trw export --format hdf5|mcap|pridb` read back with the field's own libraries (h5py,
mcap, vallenae) and compared with the session file read with sqlite3: frames bit-exact
(against the per-frame min, max, mean and hotspot trw computed from the raw frame while
recording, and HDF5 against MCAP), PCM against the per-chunk peak and RMS stored while
recording, hits, BMS samples and labels field by field."""
import base64
import json
import math
import os
import sqlite3
import subprocess
import tempfile

import h5py
import numpy as np
import pandas as pd
import pytest
from mcap.reader import make_reader
from vallenae.io import PriDatabase, TraDatabase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRW = os.environ.get("TRW_BIN", os.path.join(ROOT, ".build", "debug", "trw"))


def run(*args, cwd):
    return subprocess.run([TRW, *args], cwd=cwd, capture_output=True, text=True)


def trw(*args, cwd):
    p = run(*args, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def session():
    with tempfile.TemporaryDirectory() as d:
        trw("record", "--rig", "synthetic", "--name", "s", "--duration", "4", "--max", "--quiet", cwd=d)
        path = os.path.join(d, "sessions", "s.sqlite")
        trw("label", "add", path, "runaway_onset", "3.0", "--author", "ana", cwd=d)
        trw("label", "add", path, "exclude", "1.0", "--to", "1.5", "--author", "ana", cwd=d)
        trw("mark", path, "vent seen", "--at", "2.0", cwd=d)
        # Predictions (a detector run stored in the session) and, written here by SQL as a sensing
        # policy and the recorder would, sensing-setting changes and a gap: exported to HDF5.
        trw("predict", path, "--detector", "gb38031", "--run-id", "r1", cwd=d)
        con = sqlite3.connect(path)
        with con:
            con.execute("INSERT INTO sensing_event (t_ns, stream_id, setting, value, previous, origin, skipped, detail) "
                        "VALUES (1200000000, (SELECT id FROM stream WHERE kind = 'ae'), 'ae_threshold_db', 45.0, NULL, 'cli', 0, 'raised')")
            con.execute("INSERT INTO sensing_event (t_ns, stream_id, setting, value, previous, origin, skipped, detail) "
                        "VALUES (3100000000, (SELECT id FROM stream WHERE kind = 'thermal'), 'ir_fps', 5.0, 10.0, 'policy:test', 7, '')")
            con.execute("INSERT INTO gap (stream_id, kind, start_t_ns, end_t_ns, lost_count, detail) "
                        "VALUES ((SELECT id FROM stream WHERE kind = 'bms'), 'parse_error', 2200000000, NULL, 1, 'bad line (test)')")
        con.close()
        out = {}
        for fmt, ext in (("hdf5", "h5"), ("mcap", "mcap"), ("pridb", "pridb")):
            out[fmt] = os.path.join(d, "s." + ext)
            trw("export", path, "--format", fmt, "--out", out[fmt], cwd=d)
        out["hdf5_window"] = os.path.join(d, "w.h5")
        trw("export", path, "--format", "hdf5", "--out", out["hdf5_window"], "--from", "1", "--to", "2.5", cwd=d)
        out["mcap_window"] = os.path.join(d, "w.mcap")
        trw("export", path, "--format", "mcap", "--out", out["mcap_window"], "--from", "1", "--to", "2.5", cwd=d)
        con = sqlite3.connect(path)
        db = {
            "frames": con.execute("SELECT t_ns, sequence, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y "
                                  "FROM thermal_frame ORDER BY t_ns").fetchall(),
            "chunks": con.execute("SELECT t_ns, first_sample_index, frame_count, rms, peak FROM audio_chunk "
                                  "ORDER BY first_sample_index").fetchall(),
            "hits": con.execute("SELECT t_ns, channel, sample_index, amplitude_db, rise_time_s, duration_s, counts, "
                                "energy_v2s, rms_before_v FROM ae_hit ORDER BY t_ns").fetchall(),
            "bms": con.execute("SELECT t_ns, voltage_v, current_a, cell_temp_c, ambient_c, soc FROM bms_sample "
                               "ORDER BY t_ns").fetchall(),
            "labels": con.execute("SELECT label, start_t_ns, end_t_ns, label_set, author, method FROM annotation "
                                  "WHERE deleted = 0 AND id NOT IN (SELECT supersedes_id FROM annotation "
                                  "WHERE supersedes_id IS NOT NULL) ORDER BY start_t_ns").fetchall(),
            "calibration": json.loads(con.execute("SELECT calibration_json FROM stream WHERE kind = 'thermal'").fetchone()[0]),
            "ae": con.execute("SELECT nominal_rate_hz, channels, sample_format FROM stream WHERE kind = 'ae'").fetchone(),
            "uuid": con.execute("SELECT uuid FROM session").fetchone()[0],
            "threshold_db": json.loads(con.execute("SELECT ae_detector_json FROM stream WHERE kind = 'ae'").fetchone()[0]),
            "predictions": con.execute("SELECT t_ns, model, model_version, run_id, score, alarm, latency_ns, parameters_json "
                                       "FROM prediction ORDER BY model, run_id, t_ns").fetchall(),
            "gaps": con.execute("SELECT start_t_ns, end_t_ns, kind, (SELECT key FROM stream s WHERE s.id = g.stream_id), lost_count, detail "
                                "FROM gap g ORDER BY start_t_ns, id").fetchall(),
            "sensing": con.execute("SELECT t_ns, (SELECT key FROM stream s WHERE s.id = e.stream_id), setting, value, previous, origin, "
                                   "skipped, detail FROM sensing_event e ORDER BY t_ns, id").fetchall(),
        }
        con.close()
        yield d, path, out, db


def n(x):
    return math.nan if x is None else x


def check_frame_statistics(frames, rows):
    """Each frame against the statistics trw computed from the raw frame while recording."""
    assert len(frames) == len(rows) and len(rows) > 0
    for f, (_, _, mn, mx, mean, hx, hy) in zip(frames, rows):
        assert int(f.min()) == mn and int(f.max()) == mx
        assert f.mean(dtype=np.float64) == pytest.approx(mean, rel=1e-12)
        assert np.unravel_index(np.argmax(f), f.shape) == (hy, hx)


# HDF5

def test_hdf5_frames_times_and_calibration(session):
    _, _, out, db = session
    with h5py.File(out["hdf5"], "r") as f:
        assert f.attrs["format"] == b"trw-hdf5-1" and f.attrs["session_uuid"].decode() == db["uuid"]
        g = f["thermal/ir0"]
        frames = g["frames"]
        assert frames.dtype == np.uint16 and frames.shape == (len(db["frames"]), 120, 160)
        assert frames.chunks == (1, 120, 160) and frames.compression == "gzip" and frames.shuffle
        check_frame_statistics(frames[:], db["frames"])
        assert list(g["t_ns"][:]) == [r[0] for r in db["frames"]]
        assert list(g["sequence"][:]) == [r[1] for r in db["frames"]]
        cal = db["calibration"]
        assert frames.attrs["kelvin_per_count"] == cal["kelvinPerCount"]
        assert frames.attrs["offset_kelvin"] == cal.get("offsetKelvin", 0)


def test_hdf5_pcm_chunks_and_rate(session):
    _, _, out, db = session
    rate, ch, fmt = db["ae"]
    with h5py.File(out["hdf5"], "r") as f:
        g = f["ae/ae0"]
        assert g.attrs["sample_rate_hz"] == rate and g.attrs["channels"] == ch
        assert g.attrs["sample_format"].decode() == fmt
        pcm = g["pcm"][:]
        assert pcm.dtype == (np.int16 if fmt == "S16_LE" else np.int32) and pcm.shape[1] == ch
        assert list(g["chunk_t_ns"][:]) == [c[0] for c in db["chunks"]]
        assert list(g["chunk_first_sample_index"][:]) == [c[1] for c in db["chunks"]]
        assert list(g["chunk_frames"][:]) == [c[2] for c in db["chunks"]]
        assert pcm.shape[0] == sum(c[2] for c in db["chunks"])
        fs = float(g.attrs["full_scale"])
        for row, (_, _, count, rms, peak) in zip(g["chunk_row"][:], db["chunks"]):
            x = pcm[row:row + count].astype(np.int64)
            assert np.abs(x).max() / fs == peak  # exact: the same integers
            assert math.sqrt(float((x.astype(np.float64) ** 2).sum()) / (fs * fs) / x.size) == pytest.approx(rms, rel=1e-9)


def test_hdf5_hits_bms_labels_features(session):
    _, _, out, db = session
    with h5py.File(out["hdf5"], "r") as f:
        h = f["ae/ae0/hits"]
        cols = ["t_ns", "channel", "sample_index", "amplitude_db", "rise_time_s", "duration_s", "counts",
                "energy_v2s", "rms_before_v"]
        got = list(zip(*[h[c][:].tolist() for c in cols]))
        assert got == db["hits"] and len(got) >= 6
        b = f["bms/bms0"]
        got = list(zip(*[b[c][:].tolist() for c in ["t_ns", "voltage_v", "current_a", "cell_temp_c", "ambient_c", "soc"]]))
        assert len(got) == len(db["bms"])
        for g, e in zip(got, db["bms"]):
            assert g[0] == e[0]
            for x, y in zip(g[1:], e[1:]):
                assert (math.isnan(x) and y is None) or x == y
        lab = f["labels"]
        got = sorted(zip([x.decode() for x in lab["label"][:]], lab["start_t_ns"][:].tolist(),
                         [e if i else None for e, i in zip(lab["end_t_ns"][:].tolist(), lab["is_interval"][:])],
                         [x.decode() for x in lab["label_set"][:]], [x.decode() for x in lab["author"][:]],
                         [x.decode() for x in lab["method"][:]]), key=lambda r: r[1])
        assert got == db["labels"] and len(got) == 2
        assert [x.decode() for x in f["markers/text"][:]] == ["vent seen"]
        feats = f["features"]
        names = [x.decode() for x in feats["names"][:]]
        values = feats["values"][:]
        assert values.dtype == np.float32 and values.shape == (len(feats["t_s"]), len(names))
        # 1 Hz ticks from 0 to the window's end (the last data; a 4 s run, a little longer on a loaded machine).
        assert values.shape[0] == f.attrs["to_t_ns"] // 1_000_000_000 and values.shape[0] >= 4
        # Sample-and-hold voltage: the last BMS sample at or before each tick's end.
        v = names.index("voltage_v")
        for t, row in zip(feats["t_s"][:], values):
            held = [r[1] for r in db["bms"] if r[0] <= t * 1e9 + 1]
            assert row[v] == np.float32(held[-1])


def test_hdf5_window(session):
    _, _, out, db = session
    with h5py.File(out["hdf5_window"], "r") as f:
        assert f.attrs["from_t_ns"] == 1_000_000_000 and f.attrs["to_t_ns"] == 2_500_000_000
        want = [r for r in db["frames"] if 1_000_000_000 <= r[0] < 2_500_000_000]
        assert list(f["thermal/ir0/t_ns"][:]) == [r[0] for r in want]
        check_frame_statistics(f["thermal/ir0/frames"][:], want)
        assert list(f["ae/ae0/hits/t_ns"][:]) == [r[0] for r in db["hits"] if 1_000_000_000 <= r[0] < 2_500_000_000]
        # Labels overlapping the window: the exclude interval 1.0-1.5 s, not the onset at 3 s.
        assert [x.decode() for x in f["labels/label"][:]] == ["exclude"]
        assert f["features/values"].shape[0] == 1  # (1, 2] s; (2, 3] s ends after the window


def h5_table(g, columns):
    """Rows of an HDF5 group's column datasets, strings decoded."""
    cols = [[x.decode() if isinstance(x, bytes) else x.item() for x in g[c][:]] for c in columns]
    return list(zip(*cols)) if cols and cols[0] else []


def test_hdf5_predictions_gaps_and_sensing_events(session):
    _, _, out, db = session
    assert len(db["predictions"]) >= 4 and db["gaps"] and len(db["sensing"]) == 2
    with h5py.File(out["hdf5"], "r") as f:
        p = h5_table(f["predictions"], ["t_ns", "model", "model_version", "run_id", "score", "alarm", "latency_ns", "parameters_json"])
        assert p == [(t, m, v, r, s, a, -1 if lat is None else lat, pj) for t, m, v, r, s, a, lat, pj in db["predictions"]]
        assert {r[1] for r in p} == {"gb38031"} and {r[3] for r in p} == {"r1"}
        g = h5_table(f["gaps"], ["start_t_ns", "end_t_ns", "kind", "stream", "lost_count", "detail"])
        assert g == [(a, a if b is None else b, k, s or "", n, det) for a, b, k, s, n, det in db["gaps"]]
        assert ("parse_error", "bms0", "bad line (test)") in [(r[2], r[3], r[5]) for r in g]
        assert list(f["gaps/is_interval"][:]) == [0 if r[1] is None else 1 for r in db["gaps"]]
        e = h5_table(f["sensing_events"], ["t_ns", "stream", "setting", "value", "previous", "origin", "skipped", "detail"])
        assert len(e) == 2
        assert e[0][:4] == (1200000000, "ae0", "ae_threshold_db", 45.0) and math.isnan(e[0][4]) and e[0][5:] == ("cli", 0, "raised")
        assert e[1] == (3100000000, "ir0", "ir_fps", 5.0, 10.0, "policy:test", 7, "")
    with h5py.File(out["hdf5_window"], "r") as f:
        # The window [1, 2.5) s: predictions at ticks inside it, the gap at 2.2 s, the threshold change at 1.2 s.
        want = [r for r in db["predictions"] if 1_000_000_000 <= r[0] < 2_500_000_000]
        assert list(f["predictions/t_ns"][:]) == [r[0] for r in want] and len(want) >= 1
        assert 2200000000 in list(f["gaps/start_t_ns"][:])
        assert list(f["sensing_events/t_ns"][:]) == [1200000000]


def test_hdf5_frames_equal_mcap_frames(session):
    _, _, out, db = session
    with h5py.File(out["hdf5"], "r") as f:
        h5frames = f["thermal/ir0/frames"][:]
    with open(out["mcap"], "rb") as fh:
        images = [json.loads(m.data) for _, c, m in make_reader(fh).iter_messages(topics=["/thermal/ir0"])]
    assert len(images) == len(h5frames)
    for img, fr in zip(images, h5frames):
        px = np.frombuffer(base64.b64decode(img["data"]), dtype="<u2").reshape(img["height"], img["width"])
        assert np.array_equal(px, fr)


# MCAP

def test_mcap_summary_channels_and_times(session):
    _, _, out, db = session
    with open(out["mcap"], "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None and len(summary.chunk_indexes) >= 1
        topics = {c.topic: c for c in summary.channels.values()}
        assert {"/thermal/ir0", "/bms/bms0", "/ae/ae0/hits", "/labels", "/markers", "/features"} <= set(topics)
        assert summary.schemas[topics["/thermal/ir0"].schema_id].name == "foxglove.RawImage"
        assert summary.statistics.message_count == sum(summary.statistics.channel_message_counts.values())
        assert summary.statistics.channel_message_counts[topics["/thermal/ir0"].id] == len(db["frames"])
        msgs = list(reader.iter_messages())
        assert len(msgs) == summary.statistics.message_count
        times = [m.log_time for _, _, m in msgs]
        assert times == sorted(times)
        meta = {r.name: r.metadata for r in reader.iter_metadata()}
        assert meta["trw.session"]["session_uuid"] == db["uuid"]
    for _, c, m in msgs:
        j = json.loads(m.data)
        assert j["timestamp"]["sec"] * 1_000_000_000 + j["timestamp"]["nsec"] == m.log_time
        if c.topic == "/thermal/ir0":
            assert j["encoding"] == "mono16" and j["step"] == 2 * j["width"]


def test_mcap_hits_bms_labels(session):
    _, _, out, db = session
    with open(out["mcap"], "rb") as fh:
        by = {}
        for _, c, m in make_reader(fh).iter_messages():
            by.setdefault(c.topic, []).append((m.log_time, json.loads(m.data)))
    hits = [(j["t_ns"], j["channel"], j["sample_index"], j["amplitude_db"], j["rise_time_s"], j["duration_s"],
             j["counts"], j["energy_v2s"], j["rms_before_v"]) for _, j in by["/ae/ae0/hits"]]
    assert hits == db["hits"]
    bms = [(j["t_ns"], j["voltage_v"], j["current_a"], j["cell_temp_c"], j["ambient_c"], j["soc"]) for _, j in by["/bms/bms0"]]
    assert bms == db["bms"]
    labels = sorted((j["label"], j["start_t_ns"], j["end_t_ns"] if j["is_interval"] else None, j["label_set"], j["author"],
                     j["method"]) for _, j in by["/labels"])
    assert labels == sorted(db["labels"])
    assert [j["text"] for _, j in by["/markers"]] == ["vent seen"] and by["/markers"][0][0] == 2_000_000_000
    with h5py.File(out["hdf5"], "r") as f:
        ticks = f["features/t_s"][:]
        names = [x.decode() for x in f["features/names"][:]]
        values = f["features/values"][:]
    assert [t for t, _ in by["/features"]] == [round(t * 1e9) for t in ticks] and len(ticks) >= 4
    for (_, j), row in zip(by["/features"], values):
        for name, v in zip(names, row):
            assert (j[name] is None and np.isnan(v)) or np.float32(j[name]) == v


def test_mcap_window_holds_exactly_the_windowed_messages(session):
    """--from 1 --to 2.5: every message with 1 s <= t < 2.5 s and no other (the export reads the
    window by SQL on session time; labels overlapping it start at the window's start)."""
    _, _, out, db = session
    lo, hi = 1_000_000_000, 2_500_000_000
    inside = lambda rows: [r[0] for r in rows if lo <= r[0] < hi]
    with open(out["mcap_window"], "rb") as fh:
        by = {}
        for _, c, m in make_reader(fh).iter_messages():
            by.setdefault(c.topic, []).append((m.log_time, json.loads(m.data)))
    assert [t for t, _ in by["/thermal/ir0"]] == inside(db["frames"]) and len(by["/thermal/ir0"]) >= 2
    assert [j["sequence"] for _, j in by["/thermal/ir0"]] == [r[1] for r in db["frames"] if lo <= r[0] < hi]
    assert [t for t, _ in by["/bms/bms0"]] == inside(db["bms"]) and len(by["/bms/bms0"]) >= 2
    assert [t for t, _ in by.get("/ae/ae0/hits", [])] == inside(db["hits"])
    assert [t for t, _ in by.get("/predictions/gb38031", [])] == inside(db["predictions"]) and inside(db["predictions"])
    assert [(j["label"], t) for t, j in by["/labels"]] == [("exclude", lo)]
    assert [(j["text"], t) for t, j in by["/markers"]] == [("vent seen", 2_000_000_000)]
    expected = {"/thermal/ir0", "/bms/bms0", "/predictions/gb38031", "/labels", "/markers", "/features"}
    assert set(by) == expected | ({"/ae/ae0/hits"} if inside(db["hits"]) else set())
    # The same feature ticks and values as the HDF5 export of the same window.
    with h5py.File(out["hdf5_window"], "r") as f:
        ticks, names, values = f["features/t_s"][:], [x.decode() for x in f["features/names"][:]], f["features/values"][:]
    assert [t for t, _ in by["/features"]] == [round(t * 1e9) for t in ticks] == [2_000_000_000]
    for (_, j), row in zip(by["/features"], values):
        for name, v in zip(names, row):
            assert (j[name] is None and np.isnan(v)) or np.float32(j[name]) == v


# pridb

def test_pridb_hits_field_by_field(session):
    _, _, out, db = session
    pri = PriDatabase(out["pridb"])
    hits = pri.read_hits(show_progress=False)
    assert len(hits) == len(db["hits"]) >= 6
    thr_uv = 10 ** (db["threshold_db"]["thresholdDbAE"] / 20)
    # Quantisation documented in schemas/export-pridb.md: 100 ns times, 1 nV amplitudes, 1e-20 V²s energy.
    for (_, h), (t, ch, _, db_ae, rise, dur, counts, e, rms) in zip(hits.iterrows(), db["hits"]):
        assert h["time"] == pytest.approx(round(t / 100) / 1e7, abs=1e-12)
        assert h["channel"] == ch + 1
        assert h["amplitude"] == pytest.approx(round(10 ** (db_ae / 20) * 1000) * 1e-9, rel=1e-12)
        assert h["threshold"] == pytest.approx(round(thr_uv * 1000) * 1e-9, rel=1e-12)
        assert h["rise_time"] == pytest.approx(round(rise * 1e7) / 1e7, abs=1e-13)
        assert h["duration"] == pytest.approx(round(dur * 1e7) / 1e7, abs=1e-13)
        assert h["counts"] == counts
        assert h["energy"] == pytest.approx(round(e / 1e-14 / 1e-6) * 1e-6, rel=1e-12)  # eu
        assert h["rms"] == pytest.approx(round(rms * 1e6 / (0.0065536 * 1e-3)) * 0.0065536 * 1e-9, rel=1e-12)
        assert abs(h["time"] - t / 1e9) <= 50e-9 + 1e-12 and abs(h["amplitude"] - 10 ** (db_ae / 20) * 1e-6) <= 0.5e-9


def test_pridb_markers_and_settings(session):
    _, _, out, db = session
    pri = PriDatabase(out["pridb"])
    markers = pri.read_markers(show_progress=False)
    kinds = list(markers["set_type"])
    assert kinds[0] == 5 and kinds.count(4) == 2  # date-time marker at 0, one label marker per label
    labels = [m for m in markers["data"] if m.startswith(("runaway_onset", "exclude"))]
    assert sorted(x.split(" ")[0] for x in labels) == ["exclude", "runaway_onset"]
    assert pri.globalinfo()["TimeBase"] == 10_000_000
    assert pri.to_datetime(0).year >= 2024
    setup = pri.connection().execute("SELECT Data FROM acq_setup").fetchone()[0]
    assert "sample_rate_hz=\"%s\"" % db["ae"][0] in setup and "threshold_db_ae" in setup


def test_tradb_waveforms_are_the_pcm_around_each_hit(session):
    _, _, out, db = session
    tradb = out["pridb"][:-len(".pridb")] + ".tradb"
    hits = PriDatabase(out["pridb"]).read_hits(show_progress=False)
    tra = TraDatabase(tradb)
    with h5py.File(out["hdf5"], "r") as f:
        g = f["ae/ae0"]
        pcm = g["pcm"][:]
        first, rows, counts = g["chunk_first_sample_index"][:], g["chunk_row"][:], g["chunk_frames"][:]
    shift = {"S16_LE": 0, "S24_LE": 8, "S32_LE": 16}[db["ae"][2]]
    assert len(hits) == len(db["hits"])
    assert np.array_equal(first[1:], first[:-1] + counts[:-1])  # no lost samples in this run
    recorded = (first[0], first[-1] + counts[-1])
    with_wave = 0
    for (_, h), e in zip(hits.iterrows(), db["hits"]):
        inside = recorded[0] <= e[2] - 256 and e[2] - 256 + 2048 <= recorded[1]
        # A hit has its waveform exactly when its window lies inside the recording.
        assert pd.isna(h["trai"]) == (not inside), (e, recorded)
        if not inside:
            continue
        with_wave += 1
        wave, rate = tra.read_wave(int(h["trai"]), time_axis=False, raw=True)
        assert rate == db["ae"][0] and wave.dtype == np.int16 and len(wave) == 2048
        start = e[2] - 256  # 256 samples of pretrigger before the hit's first crossing
        k = np.searchsorted(first, start, side="right") - 1
        r0 = rows[k] + (start - first[k])
        assert first[k] <= start < first[k] + counts[k]
        want = (pcm[r0:r0 + 2048, e[1]].astype(np.int64) >> shift).astype(np.int16)
        assert np.array_equal(wave, want)
    assert with_wave >= len(hits) - 2 and with_wave >= 5
    rec = next(iter(tra.iread(trai=1)))
    assert rec.pretrigger == 256 and rec.channel == db["hits"][0][1] + 1


# Refusals

def test_refuses_existing_output_and_leaves_it(session):
    d, path, out, _ = session
    before = os.path.getsize(out["hdf5"])
    p = run("export", path, "--format", "hdf5", "--out", out["hdf5"], cwd=d)
    assert p.returncode == 1 and "exists" in p.stderr and "never overwrites" in p.stderr
    assert os.path.getsize(out["hdf5"]) == before
    assert not [x for x in os.listdir(d) if ".partial-" in x]
    tradb = out["pridb"][:-len(".pridb")] + ".tradb"
    p = run("export", path, "--format", "pridb", "--out", os.path.join(d, "other.pridb"), cwd=d)
    assert p.returncode == 0, p.stderr
    os.remove(os.path.join(d, "other.pridb"))  # its tradb stays: the next export must refuse
    p = run("export", path, "--format", "pridb", "--out", os.path.join(d, "other.pridb"), cwd=d)
    assert p.returncode == 1 and "other.tradb exists" in p.stderr
    assert not os.path.exists(os.path.join(d, "other.pridb")) and os.path.exists(tradb)


@pytest.mark.parametrize("args,needle", [
    (["--to", "99"], "lies outside the session"),
    (["--from", "marker:vent seen-10"], "--from -8.000 s lies outside the session"),
    (["--from", "3", "--to", "2"], "must be before"),
])
def test_window_outside_the_session_is_refused(session, args, needle):
    d, path, _, _ = session
    target = os.path.join(d, "refused.h5")
    p = run("export", path, "--format", "hdf5", "--out", target, *args, cwd=d)
    assert p.returncode != 0 and needle in p.stderr, p.stderr
    assert not os.path.exists(target)


def test_one_session_per_field_export_and_pridb_name(session):
    d, path, _, _ = session
    p = run("export", path, path, "--format", "mcap", "--out", os.path.join(d, "x.mcap"), cwd=d)
    assert p.returncode == 64 and "writes one session" in p.stderr
    p = run("export", path, "--format", "pridb", "--out", os.path.join(d, "x.db"), cwd=d)
    assert p.returncode == 64 and ".pridb" in p.stderr
    p = run("export", path, "--out", os.path.join(d, "x.npz"), "--from", "1", cwd=d)
    assert p.returncode == 64 and "--from/--to" in p.stderr
