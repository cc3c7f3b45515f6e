"""Baselines: the numpy serving of the scikit-learn models equals scikit-learn; every
baseline trains on a tiny dataset, saves without pickle and serves causal scores."""
import argparse
import io
import json

import numpy as np
import pytest
from sklearn.gaussian_process.kernels import Matern
from sklearn.svm import OneClassSVM

from trw_models import kernel_baselines, serve, train as train_cmd, weights, windowed
from test_dplstm import synthetic_dataset


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_numpy_matern_equals_sklearn(nu):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    ls = np.array([0.5, 2.0, 1.0])
    assert np.allclose(kernel_baselines.matern(a, b, ls, nu, 1.7), 1.7 * Matern(length_scale=ls, nu=nu)(a, b), atol=1e-10)


def test_numpy_ocsvm_equals_sklearn():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4))
    gamma = kernel_baselines.rbf_scale_gamma(x)
    svm = OneClassSVM(kernel="rbf", gamma=gamma, nu=0.05).fit(x)
    p = {"sv": svm.support_vectors_, "dual": svm.dual_coef_[0], "intercept": svm.intercept_[0], "gamma": gamma, "scale": 1.0}
    q = rng.normal(size=(20, 4)) * 2
    assert np.allclose(kernel_baselines.ocsvm_decision(p, q), svm.decision_function(q), atol=1e-8)
    # rbf_scale_gamma is scikit-learn's gamma="scale": the same fitted decision function
    assert np.array_equal(OneClassSVM(kernel="rbf", gamma="scale", nu=0.05).fit(x).decision_function(q), svm.decision_function(q))


def test_window_summaries_online_equal_offline():
    ds = synthetic_dataset(1, 80)
    r = ds.runs[0]
    feats = list(ds.feature_names)
    off = windowed.summaries(r.features, feats)
    h = windowed.History(feats, windowed.LONG + 1)
    for t in range(80):
        a = h.push(dict(zip(feats, map(float, r.features[t]))))
        assert np.allclose(windowed.summaries(a, feats)[-1], off[t], atol=1e-5)


@pytest.mark.parametrize("model", ["gp", "ocsvm", "wavelet-cnn", "lstm", "attn-lstm"])
def test_baseline_trains_saves_and_serves(tmp_path, model, monkeypatch):
    ds = synthetic_dataset(3, 160)
    monkeypatch.setattr(train_cmd.data, "load", lambda path, **kw: ds)
    args = argparse.Namespace(data="x.npz", model=model, out=str(tmp_path), seed=0, features="dp", split_seed=None, epochs=2,
                              patience=3, lr=1e-3, batch=64, chunk=16, piece=64, max_groups=0, hidden=8, layers=0)
    assert train_cmd.run_train(args) == 0
    p, cfg = weights.load(str(tmp_path))
    assert cfg["model"] == model and cfg["split"]["train"] and cfg["seed"] == 0 and "split_seed" in cfg
    m = train_cmd.load_online(str(tmp_path))
    r = ds.runs[0]
    lines = [json.dumps({"type": "session", "uuid": "u", "name": "n", "rate_hz": 1, "feature_names": list(ds.feature_names)})]
    for k in range(0, 160, 20):
        f = {n: float(v) for n, v in zip(ds.feature_names, r.features[k])}
        lines.append(json.dumps({"type": "tick", "t": float(k + 1), "k": k, "features": f}))
    lines.append(json.dumps({"type": "end", "t": 161.0}))
    out = io.StringIO()
    assert serve.run(m, io.StringIO("\n".join(lines) + "\n"), out) == 8
    scores = [json.loads(l)["score"] for l in out.getvalue().splitlines()]
    assert len(scores) == 8 and all(0.0 <= s <= 1.0 for s in scores)


class CountEvents:
    wants_events = False

    def reset(self, names):
        pass

    def step(self, f, events):
        return 0.1 * len(events) + 0.5 * (f["x"] or 0)


def test_serve_skips_ae_hits_for_models_without_events():
    lines = ['{"type":"session","uuid":"u","name":"n","rate_hz":1,"feature_names":["x"]}',
             '{"type":"ae_hit","t":0.5,"stream":"ae0","channel":0,"amplitude_db":60}',
             '{"type":"marker","t":0.6,"text":"m"}',
             '{"type":"tick","t":1,"k":0,"features":{"x":1}}', '{"type":"end","t":1}']
    out = io.StringIO()
    assert serve.run(CountEvents(), io.StringIO("\n".join(lines) + "\n"), out) == 1
    assert json.loads(out.getvalue()) == {"t": 1, "score": 0.6}  # the marker is passed, the AE hit is not
