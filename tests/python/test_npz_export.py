"""NPZ datasets written by `trw export` read back with numpy alone: shapes,
dtypes and values checked against the session file (read with sqlite3)."""
import json
import os
import sqlite3
import subprocess
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRW = os.environ.get("TRW_BIN", os.path.join(ROOT, ".build", "debug", "trw"))


def trw(*args, cwd):
    return subprocess.run([TRW, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def dataset():
    with tempfile.TemporaryDirectory() as d:
        trw("record", "--rig", "synthetic", "--name", "a", "--duration", "6", "--max", "--quiet", cwd=d)
        trw("record", "--rig", "synthetic", "--name", "b", "--duration", "4", "--max", "--quiet", cwd=d)
        trw("label", "add", "sessions/a.sqlite", "runaway_onset", "3.0", "--author", "ana", cwd=d)
        trw("label", "add", "sessions/a.sqlite", "exclude", "1.0", "--to", "1.5", "--author", "ana", cwd=d)
        out = os.path.join(d, "ds.npz")
        trw("export", "sessions/a.sqlite", "sessions/b.sqlite", "--out", out, "--rate", "10",
            "--horizon", "2", "--ir-frames", "16x12", "--ae-stft", "32", cwd=d)
        with np.load(out) as z:
            arrays = {k: z[k] for k in z.files}
        bms = {}
        ticks = {}
        for name in ("a", "b"):
            con = sqlite3.connect(os.path.join(d, "sessions", name + ".sqlite"))
            bms[name] = con.execute("SELECT t_ns, voltage_v, cell_temp_c FROM bms_sample ORDER BY t_ns").fetchall()
            # The export's rule (schemas/export-npz.md): ticks up to the later of the session's end and
            # its last data. The synthetic source's clock starts when its thread does, so on a loaded
            # machine the data can end a little after --duration (seen: 6.3 s).
            end = max(con.execute("SELECT COALESCE(end_t_ns, 0) FROM session").fetchone()[0],
                      *(con.execute(f"SELECT COALESCE(MAX(t_ns), 0) FROM {t}").fetchone()[0]
                        for t in ("bms_sample", "thermal_frame", "ae_hit")))
            ticks[name] = int(end // 100_000_000)
            con.close()
        arrays["_expected_ticks"] = ticks
        yield arrays, bms


def test_shapes_and_dtypes(dataset):
    a, _ = dataset
    n, f = a["features"].shape
    assert a["features"].dtype == np.float32
    expected = a["_expected_ticks"]
    # 6 s and 4 s at 10 Hz, plus what the recording ran past --duration (at most 2 s here).
    assert 60 <= expected["a"] <= 80 and 40 <= expected["b"] <= 60, expected
    assert n == expected["a"] + expected["b"]
    assert a["feature_names"].shape == (f,)
    for k in ("t_s", "session_index", "time_to_onset_s", "runaway_within_horizon", "post_onset", "mask"):
        assert a[k].shape == (n,), k
    assert a["t_s"].dtype == np.float64 and a["session_index"].dtype == np.int32
    assert a["runaway_within_horizon"].dtype == np.int8 and a["mask"].dtype == np.bool_
    assert a["ir_frames_c"].shape == (n, 12, 16) and a["ir_frames_c"].dtype == np.float16
    assert list(a["session_name"]) == ["a", "b"]
    assert list(a["session_ticks"]) == [expected["a"], expected["b"]]
    meta = json.loads(a["meta_json"][0])
    assert meta["format"] == "trw-dataset-1" and float(meta["rate_hz"]) == 10.0


def test_features_match_the_session(dataset):
    a, bms = dataset
    names = list(a["feature_names"])
    v, tc = names.index("voltage_v"), names.index("cell_temp_c")
    for si, name in enumerate(("a", "b")):
        rows = np.where(a["session_index"] == si)[0]
        for r in rows:
            t_ns = a["t_s"][r] * 1e9
            held = [b for b in bms[name] if b[0] <= t_ns + 1]  # sample-and-hold, causal
            if not held:
                assert np.isnan(a["features"][r, v])
                continue
            assert a["features"][r, v] == pytest.approx(held[-1][1], abs=1e-6)
            assert a["features"][r, tc] == pytest.approx(held[-1][2], abs=1e-4)


def test_labels_horizon_and_exclusion(dataset):
    a, _ = dataset
    sa = a["session_index"] == 0
    t = a["t_s"][sa]
    assert np.allclose(a["time_to_onset_s"][sa], 3.0 - t, atol=1e-5)
    assert np.array_equal(a["runaway_within_horizon"][sa] == 1, t >= 1.0)  # onset 3 s, horizon 2 s
    assert np.array_equal(a["post_onset"][sa], t >= 3.0)
    assert np.array_equal(~a["mask"][sa], (t >= 1.0) & (t <= 1.5))
    sb = a["session_index"] == 1
    assert np.isnan(a["time_to_onset_s"][sb]).all() and (a["runaway_within_horizon"][sb] == 0).all()
    assert list(a["session_has_onset"]) == [True, False]
    # One label set per session, named (docs/annotation.md): ana's on a, none on b.
    assert list(a["session_label_set"]) == ["ana", "none"]
    assert list(a["session_label_rule"]) == ["the only set", "no labels"]
    assert json.loads(str(a["meta_json"][0]))["label_set"] == "ana"


def test_ir_tensor_is_the_frame_in_celsius(dataset):
    a, _ = dataset
    ir = a["ir_frames_c"].astype(np.float32)
    names = list(a["feature_names"])
    mean = a["features"][:, names.index("ir_mean_c")]
    ok = ~np.isnan(mean)
    # Block means of equal-size blocks average back to the frame mean (float16 rounding: 0.05 K).
    assert np.allclose(ir[ok].reshape(ok.sum(), -1).mean(axis=1), mean[ok], atol=0.05)


def test_ae_stft_tensor(dataset):
    a, _ = dataset
    spec = a["ae_stft_log10"]
    assert spec.shape == (a["features"].shape[0], 32) and spec.dtype == np.float32
    ok = ~np.isnan(spec).any(axis=1)
    assert ok.sum() > 0.9 * len(ok)
    # The synthetic AE: a 50 kHz tone sampled at 96 kHz aliases to 46 kHz (bin 30 of 32 bins
    # of 1.5 kHz); a 35 kHz burst every 0.5 s (bin 23) dominates the 10 Hz ticks holding one.
    peak = np.argmax(spec[ok], axis=1)
    assert set(peak) <= {23, 30}
    burst_share = (peak == 23).mean()
    assert 0.1 <= burst_share <= 0.3, burst_share  # 2 of 10 ticks per second
