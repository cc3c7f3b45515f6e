"""The DP-LSTM: shapes, masks and pruned-state semantics, the three loss terms on
hand-computed cases, and a short training run that lowers the loss."""
import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trw_models import data, dplstm, recurrent, weights


def small_cfg(n_in=4):
    cfg = dplstm.default_config(n_in)
    cfg.update(hidden=8, layers=3)
    cfg["policy"].update(d=8, heads=2, window=3, ff=16)
    return cfg


def test_param_shapes_and_tau_init():
    cfg = dplstm.default_config(4)
    p = jax.eval_shape(lambda k: dplstm.init_params(k, cfg), jax.random.PRNGKey(0))
    assert p["lstm"]["l0"]["w_ih"].shape == (1024, 4)
    assert p["lstm"]["l3"]["w_hh"].shape == (1024, 256)
    assert p["policy"]["embed"]["w"].shape == (128, 4)
    assert p["policy"]["l1"]["rel_bias"].shape == (4, 16)
    assert p["policy"]["head"]["w"].shape == (4 * 256, 128)
    assert p["head"]["w"].shape == (1, 256 + 128)
    assert p["gate"]["tau"].shape == (4, 256)
    tau = np.asarray(dplstm.init_params(jax.random.PRNGKey(0), small_cfg())["gate"]["tau"])
    assert tau.min() >= 0.1 and tau.max() <= 0.3 and tau.std() > 0.02


def test_step_shapes_mask_and_pruned_state():
    cfg = small_cfg()
    p = dplstm.init_params(jax.random.PRNGKey(1), cfg)
    p["policy"]["head"]["b"] = jnp.asarray(np.random.default_rng(0).normal(0, 2, (cfg["layers"] * cfg["hidden"],)), jnp.float32)
    st = dplstm.init_state(cfg, 2)
    xn = jnp.ones((2, 4)) * 0.3
    drive = jnp.array([[0.0, 0.0], [50.0, 50.0]])
    st1, o = dplstm.step(p, cfg, st, xn, drive)
    assert o["score"].shape == (2,) and o["keep"].shape == (2, 3, 8) and o["m"].shape == (2, 3, 8)
    assert np.array_equal(np.asarray(o["m"]), (np.asarray(o["keep"]) > 0.5).astype(np.float32))
    # a large drive opens every threshold gate: all cells active
    assert np.asarray(o["m"][1]).all()
    # pruned cells: h~ = 0 and memory unchanged
    st2, o2 = dplstm.step(p, cfg, st1, xn, drive)
    m = np.asarray(o2["m"][0]).astype(bool)
    assert (~m).any()
    assert np.all(np.asarray(st2["h"][0])[~m] == 0)
    assert np.allclose(np.asarray(st2["c"][0])[~m], np.asarray(st1["c"][0])[~m])
    assert np.asarray(st2["n"]).tolist() == [2, 2]


def test_mask_gradient_is_straight_through():
    cfg = small_cfg()
    p = dplstm.init_params(jax.random.PRNGKey(2), cfg)
    st = dplstm.init_state(cfg, 1)

    def f(tau):
        q = {**p, "gate": {**p["gate"], "tau": tau}}
        _, o = dplstm.step(q, cfg, st, jnp.ones((1, 4)), jnp.array([[0.2, 0.1]]))
        return o["score"].sum()

    g = jax.grad(f)(p["gate"]["tau"])
    assert np.abs(np.asarray(g)).sum() > 0  # a hard threshold alone would give zero gradient


def test_focal_loss_hand_computed():
    s = jnp.array([0.8, 0.8, 0.5])
    y = jnp.array([1.0, 0.0, 1.0])
    got = np.asarray(dplstm.focal(s, y, 2.0, 0.75))
    want = [0.75 * 0.2 ** 2 * -math.log(0.8), 0.25 * 0.8 ** 2 * -math.log(0.2), 0.75 * 0.25 * -math.log(0.5)]
    assert np.allclose(got, want, rtol=1e-5)
    # gamma = 0, alpha = 0.5: half the cross-entropy
    assert np.isclose(float(dplstm.focal(jnp.array(0.8), jnp.array(1.0), 0.0, 0.5)), 0.5 * -math.log(0.8), rtol=1e-6)


def test_sparsity_and_policy_terms_hand_computed():
    cfg = small_cfg()
    cfg["layers"], cfg["hidden"] = 1, 2
    cfg["loss"].update(l1=0.0, l2=1.0, l3=0.0)
    params = {"gate": {"tau": jnp.array([[0.2, 0.3]])}}
    outs = {"score": jnp.array([[0.5], [0.5]]),                       # (T=2, B=1)
            "keep": jnp.array([[[[0.2, 0.6]]], [[[1.0, 0.0]]]]),      # (T, B, L, H)
            "u": jnp.array([[[[0.1, 0.5]]], [[[0.0, 0.0]]]]),
            "m": jnp.zeros((2, 1, 1, 2))}
    y = jnp.zeros((2, 1))
    w = jnp.array([[1.0], [1.0]])
    total, parts = dplstm.loss_terms(params, cfg, outs, y, w)
    assert np.isclose(float(parts["sparsity"]), ((0.2 + 0.6) / 2 + (1.0 + 0.0) / 2) / 2)
    # hinge: tick 0: max(0, .2-.1)=.1, max(0, .3-.5)=0 -> .05; tick 1: .2, .3 -> .25; mean .15
    assert np.isclose(float(parts["policy"]), 0.15)
    assert np.isclose(float(total), float(parts["sparsity"]))
    # weights: a zero-weight tick does not count
    _, p2 = dplstm.loss_terms(params, cfg, outs, y, jnp.array([[1.0], [0.0]]))
    assert np.isclose(float(p2["policy"]), 0.05) and np.isclose(float(p2["sparsity"]), 0.4)


def synthetic_dataset(n_runs=3, T=160):
    rng = np.random.default_rng(0)
    runs = []
    for i in range(n_runs):
        pos = i < 2
        temp = 25 + 0.01 * np.arange(T) + rng.normal(0, 0.02, T)
        if pos:
            temp[100:] += 0.05 * np.arange(T - 100) ** 1.5
        volt = 4.2 - (0.002 * np.maximum(np.arange(T) - 110, 0) ** 1.5 if pos else 0)
        volt = volt + rng.normal(0, 0.001, T)
        x = np.stack([np.abs(np.diff(temp, prepend=temp[0])), np.abs(np.diff(volt, prepend=volt[0])), temp, volt], 1)
        t = np.arange(1, T + 1, dtype=np.float64)
        onset = 140.0 if pos else math.nan
        target = (t >= onset - 30).astype(np.int8) if pos else np.zeros(T, np.int8)
        runs.append(data.Run(index=i, name=f"r{i}", uuid=str(i), chemistry="NCM", has_onset=pos, onset_s=onset, t_s=t,
                             features=x.astype(np.float32), target=target, post_onset=(t >= onset) if pos else np.zeros(T, bool),
                             mask=np.ones(T, bool)))
    return data.Dataset(list(data.DP_LSTM_FEATURES), runs, {})


def test_short_training_lowers_the_loss(tmp_path):
    ds = synthetic_dataset()
    args = argparse.Namespace(model="dp-lstm", seed=0, epochs=4, patience=10, lr=3e-3, batch=64, chunk=16, piece=64,
                              max_groups=0, hidden=8, layers=2)
    cfg_override = {"d": 8, "heads": 2, "window": 3, "ff": 16, "layers": 1}
    orig = dplstm.default_config

    def small(n_in):
        c = orig(n_in)
        c["policy"].update(cfg_override)
        return c

    dplstm.default_config = small
    try:
        params, config = recurrent.train(ds, ([0, 1, 2], [], []), args, lambda r: None)
    finally:
        dplstm.default_config = orig
    losses = [h["train_loss"] for h in config["history"]]
    assert len(losses) == 4
    assert losses[-1] < losses[0]
    weights.save(str(tmp_path), params, config)
    m = recurrent.load_online(str(tmp_path))
    s = m.step({"dt_c": 0.01, "dv_v": None, "cell_temp_c": 25.0, "voltage_v": 4.2}, [])
    assert 0.0 <= s <= 1.0


def test_config_json_is_strict_json(tmp_path):
    """NaN (e.g. a validation loss without validation runs) is written as null: Swift reads config.json."""
    import json
    weights.save(str(tmp_path), {"w": np.zeros(2, np.float32)}, {"history": [{"val_loss": float("nan")}], "best": np.float32("inf")})
    text = (tmp_path / "config.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"best": None, "history": [{"val_loss": None}]}
