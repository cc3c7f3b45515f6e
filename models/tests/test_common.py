"""The shared pieces: safetensors round trip, run splits, causal windows, the serve loop."""
import io
import json
import math

import numpy as np

from trw_models import data, serve, weights


def test_safetensors_round_trip(tmp_path):
    params = {"lstm": {"layer0": {"w": np.arange(12, dtype=np.float32).reshape(3, 4)}}, "head": {"b": np.float32(0.5)}}
    weights.save(str(tmp_path), params, {"model": "x", "mean": np.array([1.0, 2.0])})
    p, cfg = weights.load(str(tmp_path))
    assert np.array_equal(p["lstm"]["layer0"]["w"], params["lstm"]["layer0"]["w"])
    assert p["head"]["b"].shape == () and p["head"]["b"].item() == 0.5
    assert cfg["mean"] == [1.0, 2.0]


def _dataset(n_pos, n_neg):
    runs = []
    for i in range(n_pos + n_neg):
        t = np.arange(5, dtype=np.float64)
        runs.append(data.Run(index=i, name=f"r{i}", uuid=str(i), chemistry="NCM", has_onset=i < n_pos, onset_s=3.0,
                             t_s=t, features=np.zeros((5, 2), np.float32), target=np.zeros(5, np.int8),
                             post_onset=np.zeros(5, bool), mask=np.ones(5, bool)))
    return data.Dataset(["a", "b"], runs, {})


def test_split_is_by_run_and_covers_both_classes():
    ds = _dataset(6, 4)
    tr, va, te = data.split_runs(ds, seed=1)
    assert sorted(tr + va + te) == list(range(10))
    assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    for part in (va, te):
        assert any(i < 6 for i in part) and any(i >= 6 for i in part)
    assert data.split_runs(ds, seed=1) == (tr, va, te)


def test_windows_are_causal():
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    y = np.arange(6)
    w, lab = data.windows(x, y, 3)
    assert w.shape == (6, 3, 1)
    assert w[0, :, 0].tolist() == [0, 0, 0]
    assert w[4, :, 0].tolist() == [2, 3, 4]
    assert lab.tolist() == list(range(6))


def test_fill_nan_is_causal():
    x = np.array([[np.nan], [1.0], [np.nan], [3.0]], np.float32)
    assert data.fill_nan(x)[:, 0].tolist() == [0.0, 1.0, 1.0, 3.0]


class Echo:
    def reset(self, names):
        self.names = names

    def step(self, f, events):
        return 2.0 if math.isnan(f["x"]) else f["x"] + len(events)


def test_serve_answers_every_tick_and_clamps():
    lines = [{"type": "session", "uuid": "u", "name": "n", "rate_hz": 1, "feature_names": ["x"]},
             {"type": "tick", "t": 1.0, "k": 0, "features": {"x": 0.25}},
             {"type": "marker", "t": 1.5, "text": "m"},
             {"type": "tick", "t": 2.0, "k": 1, "features": {"x": 0.25}},
             {"type": "tick", "t": 3.0, "k": 2, "features": {"x": None}},
             {"type": "end", "t": 3.0}]
    out = io.StringIO()
    n = serve.run(Echo(), io.StringIO("\n".join(json.dumps(l) for l in lines) + "\n"), out)
    answers = [json.loads(l) for l in out.getvalue().splitlines()]
    assert n == 3
    assert answers == [{"t": 1.0, "score": 0.25}, {"t": 2.0, "score": 1.0}, {"t": 3.0, "score": 1.0}]


def test_fill_nan_matches_the_scalar_definition():
    """The vectorised fill equals the carry-forward loop on random NaN patterns."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 7)).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = np.nan
    x[:20, 2] = np.nan
    x[:, 5] = np.nan
    expected = x.copy()
    for j in range(expected.shape[1]):
        last = 0.0
        for i in range(expected.shape[0]):
            if np.isnan(expected[i, j]):
                expected[i, j] = last
            else:
                last = expected[i, j]
    got = data.fill_nan(x)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, expected)
    assert not np.isnan(x[:20, 2]).sum() == 0  # the input is not modified
