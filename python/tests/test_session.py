"""The Python reader against trw itself on one short simulated session: every frame equals
what trw's decoder gives (`trw raw-frames`), every PCM sample what `trw export-wav` writes,
the tables what the file holds; damage raises DamagedPayload naming the row; the file is
never modified."""
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import wave

import jsonschema
import numpy as np
import pytest

import trw
from readerpaths import ROOT, run_trw

W, H = 48, 36


@pytest.fixture(scope="module")
def session():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.sqlite")
        run_trw("simulate", "demo", "--max", "--duration", "4", "--ir-width", str(W), "--ir-height", str(H),
                "--ir-fps", "10", "--ae-rate", "48000", "--out", path, cwd=d)
        run_trw("label", "add", path, "venting", "1.5", "--author", "ana", cwd=d)
        run_trw("label", "add", path, "exclude", "0.5", "--to", "1.0", "--author", "ana", cwd=d)
        run_trw("label", "add", path, "venting", "2.5", "--author", "ben", cwd=d)
        run_trw("mark", path, "vent seen", "--at", "2.0", cwd=d)
        yield d, path


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_frames_equal_trws_decoder(session):
    d, path = session
    raw = os.path.join(d, "frames.u16")
    report = json.loads(run_trw("raw-frames", path, "--out", raw))
    with trw.open(path) as s:
        t, frames = s.frames()
        rows = s.frame_rows()
    assert frames.dtype == np.uint16 and frames.shape == (report["frames"], H, W)
    assert len(frames) >= 30, "4 s at 10 Hz"
    swift = np.fromfile(raw, dtype="<u2").reshape(frames.shape)
    assert np.array_equal(frames, swift)
    # The statistics the recorder stored with each frame, from the decoded pixels.
    assert np.array_equal(rows["min_counts"].to_numpy(), frames.min(axis=(1, 2)))
    assert np.array_equal(rows["max_counts"].to_numpy(), frames.max(axis=(1, 2)))
    assert np.allclose(rows["mean_counts"].to_numpy(), frames.mean(axis=(1, 2)), rtol=0, atol=1e-6)
    assert np.array_equal(t, rows["t_ns"].to_numpy()) and (np.diff(t) > 0).all()
    streamed = list(trw.open(path).iter_frames(start_ns=int(t[2]), end_ns=int(t[5])))
    assert [x[0] for x in streamed] == rows["id"].iloc[2:5].tolist()
    assert all(np.array_equal(f, frames[2 + k]) for k, (_, _, f) in enumerate(streamed))
    rid = int(rows["id"].iloc[3])
    t3, f3 = trw.open(path).frame(rid)
    assert t3 == t[3] and np.array_equal(f3, frames[3])


def test_pcm_equals_export_wav(session):
    d, path = session
    out = run_trw("export-wav", path, "--out", os.path.join(d, "w-"))
    assert "silence" not in out, "a simulated run has no gaps: the comparison below is sample for sample"
    with trw.open(path) as s:
        pcm = s.pcm()
    assert pcm.sample_format == "S16_LE" and pcm.samples.dtype == np.int16
    with wave.open(os.path.join(d, "w-ae0.wav"), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == pcm.samples.shape[1] and w.getframerate() == 48000
        wav = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    assert len(wav) == len(pcm.samples) > 48000 * 3
    assert np.array_equal(wav, pcm.samples)
    # Chunks are contiguous in sample index and their frame counts add up.
    assert np.array_equal(pcm.chunk_first_sample_index[1:], (pcm.chunk_first_sample_index + pcm.chunk_frame_count)[:-1])
    assert pcm.chunk_frame_count.sum() == len(pcm.samples)


def test_tables(session):
    d, path = session
    con = sqlite3.connect(path)
    count = lambda table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: E731
    with trw.open(path) as s:
        assert s.schema_version == trw.SUPPORTED_SCHEMA_VERSION
        st = s.streams
        assert sorted(st["kind"]) == ["ae", "bms", "thermal"]
        ir = st[st["kind"] == "thermal"].iloc[0]
        assert ir["calibration"]["kelvinPerCount"] == 0.01 and (ir["width"], ir["height"]) == (W, H)
        assert st[st["kind"] == "ae"].iloc[0]["ae_detector"]["thresholdDbAE"] > 0
        bms = s.bms()
        assert len(bms) == count("bms_sample") and bms["t_ns"].is_monotonic_increasing
        assert isinstance(bms["cell_temps"].iloc[0], list) and bms["voltage_v"].dtype == np.float64
        assert len(s.ae_hits()) == count("ae_hit")
        models = s.clock_models()
        assert set(models["stream"]) == set(st["key"])
        assert all(m["segments"] and "slope" in m["segments"][0] for m in models["model"])
        labels = s.labels()
        view = [r[0] for r in con.execute("SELECT id FROM current_annotation ORDER BY start_t_ns, id")]
        assert labels["id"].tolist() == view
        mine = labels[labels["method"] == "manual"]
        assert sorted(mine["label_set"]) == ["ana", "ana", "ben"]
        assert s.labels(label_set="ben")["start_t_ns"].tolist() == [2_500_000_000]
        assert s.markers()["text"].tolist() == ["vent seen"]
        assert len(s.gaps()) == count("gap") and len(s.sensing_events()) == count("sensing_event")
        assert len(s.predictions()) == count("prediction")


def test_supersede_semantics(session):
    d, path = session
    with trw.open(path) as s:
        ana = s.labels(label_set="ana")
    exclude = int(ana[ana["label"] == "exclude"]["id"].iloc[0])
    copy = os.path.join(d, "edited.sqlite")
    shutil.copy(path, copy)
    run_trw("label", "rm", copy, str(exclude), "--author", "ana", cwd=d)
    with trw.open(copy) as s:
        assert s.labels(label_set="ana")["label"].tolist() == ["venting"]
        history = s.labels(label_set="ana", history=True)
        assert len(history) == 3 and history["deleted"].sum() == 1
        assert int(history[history["deleted"] == 1]["supersedes_id"].iloc[0]) == exclude


def test_reading_never_writes(session):
    d, path = session
    copy = os.path.join(d, "ro.sqlite")
    shutil.copy(path, copy)
    before = sha(copy)
    with trw.open(copy) as s:
        s.frames()
        s.pcm()
        s.labels()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            s._db.execute("DELETE FROM marker")
    assert sha(copy) == before and not os.path.exists(copy + "-wal")


@pytest.mark.parametrize("table", ["thermal_frame", "audio_chunk"])
def test_damaged_payload_names_the_row(session, table):
    d, path = session
    copy = os.path.join(d, f"damaged-{table}.sqlite")
    shutil.copy(path, copy)
    con = sqlite3.connect(copy)
    rid, payload = con.execute(f"SELECT id, payload FROM {table} ORDER BY id LIMIT 1 OFFSET 2").fetchone()
    bad = bytearray(payload)
    bad[len(bad) // 2] ^= 0x04
    con.execute(f"UPDATE {table} SET payload = ? WHERE id = ?", (bytes(bad), rid))
    con.commit()
    con.close()
    with trw.open(copy) as s:
        with pytest.raises(trw.DamagedPayload) as e:
            s.frames() if table == "thermal_frame" else s.pcm()
    assert e.value.table == table and e.value.row_id == rid
    assert f"{table} row {rid}" in str(e.value) and "CRC-32C" in str(e.value) and copy in str(e.value)
    assert isinstance(e.value.cause, trw.ChecksumError)


def test_not_a_session_is_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(trw.TrwError, match="not a trw session"):
        trw.open(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(trw.TrwError, match="not an SQLite database"):
        trw.open(garbage)
    with pytest.raises(trw.TrwError, match="no such session file"):
        trw.open(tmp_path / "missing.sqlite")


def test_replay_lines_follow_the_schema(session):
    d, path = session
    with open(os.path.join(ROOT, "schemas", "replay.schema.json")) as f:
        schema = json.load(f)
    lines = [json.loads(x) for x in run_trw("replay", path, "--frames", "ref").splitlines()]
    assert lines[0]["type"] == "session" and lines[0]["format_version"] == 1
    for line in lines:
        jsonschema.validate(line, schema)


def test_newer_schema_is_refused_with_both_versions(session, tmp_path):
    d, path = session
    copy = tmp_path / "newer.sqlite"
    shutil.copy(path, copy)
    con = sqlite3.connect(copy)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(trw.TrwError, match=f"schema version 99; this reader understands 1...{trw.SUPPORTED_SCHEMA_VERSION}"):
        trw.open(copy)


def test_schema_one_file_reads_as_it_is(tmp_path):
    # A file as the first trw wrote it: no label sets, no roles, no marker history, no views.
    path = tmp_path / "one.sqlite"
    con = sqlite3.connect(path)
    with open(os.path.join(ROOT, "schemas", "migrations", "0001_initial.sql")) as f:
        con.executescript(f.read())
    con.executescript(f"""
        PRAGMA application_id = {trw.APPLICATION_ID}; PRAGMA user_version = 1;
        INSERT INTO session (id, uuid, name, rig_name, software_version, start_monotonic_ns, start_realtime_ns, start_utc, status)
            VALUES (1, 'u', 'one', 'rig', 'old', 0, 0, '1970-01-01T00:00:00Z', 'complete');
        INSERT INTO stream (id, key, kind, device, format, nominal_rate_hz) VALUES (1, 'bms0', 'bms', 'x', 'kv', 1);
        INSERT INTO annotation (id, label, start_t_ns, author, method, created_utc) VALUES (1, 'venting', 5, 'ana', 'manual', 'x');
        INSERT INTO annotation (id, label, start_t_ns, author, method, created_utc, supersedes_id) VALUES (2, 'venting', 7, 'ana', 'manual', 'x', 1);
        INSERT INTO marker (t_ns, text, created_utc) VALUES (3, 'old marker', 'x');
        """)
    con.commit()
    con.close()
    with trw.open(path) as s:
        assert s.schema_version == 1
        assert s.labels()[["id", "label_set"]].values.tolist() == [[2, "ana"]]
        assert s.markers()["text"].tolist() == ["old marker"]
        assert s.streams["role"].isna().all() and len(s.sensing_events()) == 0
