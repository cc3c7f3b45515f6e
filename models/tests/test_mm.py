"""The multimodal framework (issue 12): shapes, losses that fall, attribution of a planted hotspot,
PPO improving reward, the PNG writer, and the chain trained end to end on a tiny synthetic dataset
served online with the same scores as offline."""
import io
import json
import os

# Faster XLA compiles for these small models (takes effect if no earlier test has started JAX's backend).
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import jax  # noqa: E402
import jax.numpy as jnp
import numpy as np
import optax

from trw_models import data
from trw_models.mm import causrun, chain, common, png, ppo
from trw_models.mm.degragnn import DegraGNN, geometry
from trw_models.mm.fusegen import FuseGen, elbo_terms
from trw_models.mm.online import MMOnline
from trw_models.mm.stformer import STFormer


def _hot_frames(rng, n, L=4, h=48, w=64, hot=None):
    """Frames at 25 degC with noise; where hot[i], a 16x16 hotspot at 80 degC (normalised units)."""
    f = rng.normal(0.0, 0.02, (n, L, h, w)).astype(np.float32)
    for i in np.nonzero(hot)[0]:
        y, x = rng.integers(0, 3) * 16, rng.integers(0, 4) * 16
        f[i, :, y:y + 16, x:x + 16] += 1.1
    return f


def _fall(loss_fn, params, steps=40, lr=3e-3):
    tx = optax.adam(lr)
    opt = tx.init(params)
    g = jax.jit(jax.value_and_grad(loss_fn))
    first = None
    for _ in range(steps):
        l, gr = g(params)
        first = float(l) if first is None else first
        u, opt = tx.update(gr, opt)
        params = optax.apply_updates(params, u)
    return first, float(loss_fn(params))


def test_stformer_shapes_and_patches():
    m = STFormer(window=3, d=16, depth=1, heads=2)
    f, s = jnp.zeros((2, 3, 48, 64)), jnp.zeros((2, 3, 3))
    p = m.init(jax.random.PRNGKey(0), f, s)["params"]
    r, logit = m.apply({"params": p}, f, s)
    assert r.shape == (2, 512) and logit.shape == (2,)
    assert p["pos_y"].shape == (3, 16) and p["pos_x"].shape == (4, 16)      # 64x48 -> 4x3 patches of 16x16
    assert p["patch_embed"]["kernel"].shape == (256, 16)
    m2 = STFormer(window=3, d=16, depth=1, heads=2, use_sensors=False)
    assert "sensor_embed" not in m2.init(jax.random.PRNGKey(0), f, s)["params"]


def test_stformer_loss_falls():
    rng = np.random.default_rng(0)
    y = (np.arange(16) % 2).astype(np.float32)
    f, s = jnp.asarray(_hot_frames(rng, 16, L=2, hot=y > 0)), jnp.zeros((16, 2, 3))
    m = STFormer(window=2, d=16, depth=1, heads=2, r_dim=32)
    p = m.init(jax.random.PRNGKey(0), f, s)["params"]
    first, last = _fall(lambda p: chain.bce(m.apply({"params": p}, f, s)[1], jnp.asarray(y)), p, steps=25)
    assert last < 0.5 * first


def test_fusegen_shapes_and_elbo_falls():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(64, 4))
    r = jnp.asarray(z @ rng.normal(size=(4, 32)), jnp.float32)
    ae = jnp.asarray(z @ rng.normal(size=(4, 12)), jnp.float32)
    m = FuseGen(latent=1024, hidden=32, r_dim=32, ae_dim=12)
    p = m.init(jax.random.PRNGKey(0), r, ae)["params"]
    j, mu, logvar, r_hat, ae_hat, logit = m.apply({"params": p}, r, ae, jax.random.PRNGKey(1))
    assert j.shape == (64, 1024) and r_hat.shape == (64, 32) and ae_hat.shape == (64, 12) and logit.shape == (64,)

    def loss(p):
        _, mu, lv, rh, ah, _ = m.apply({"params": p}, r, ae, jax.random.PRNGKey(2))
        rec, kl = elbo_terms(mu, lv, r, rh, ae, ah)
        return jnp.mean(rec + kl)
    first, last = _fall(loss, p, steps=60)
    assert last < 0.6 * first


def test_degragnn_geometry_shapes_and_loss_falls():
    g = geometry((12, 36, 8, 56), 4, 6, 48, 64)
    assert g["pool"].shape == (24, 48 * 64) and np.allclose(g["pool"].sum(1), 1)
    inside = g["interp"].reshape(48, 64, 24)[12:36, 8:56]
    assert np.allclose(inside.sum(-1), 1, atol=1e-5) and g["interp"].reshape(48, 64, 24)[:12].sum() == 0
    assert g["adj"].sum() == 24 + 2 * (4 * 5 + 3 * 6)      # self loops + undirected grid edges
    rng = np.random.default_rng(2)
    y = (np.arange(24) % 2).astype(np.float32)
    f = _hot_frames(rng, 24, L=3, hot=y > 0)
    f[y > 0, -1] += 0.5                                          # heating over the window
    m = DegraGNN(d=16, layers=2)
    args = [jnp.asarray(g[k]) for k in ("pool", "adj", "etype", "gamma")]
    j = jnp.zeros((24, 1024))
    p = m.init(jax.random.PRNGKey(0), j, jnp.asarray(f), *args)["params"]
    z, cell, d, t = m.apply({"params": p}, j, jnp.asarray(f), *args)
    assert z.shape == (24, 24) and cell.shape == (24,) and d.shape == (24, 24) and t.shape == (24, 3, 24)
    first, last = _fall(lambda p: chain.bce(m.apply({"params": p}, j, jnp.asarray(f), *args)[1], jnp.asarray(y)), p)
    assert last < 0.5 * first


def test_causrun_finds_planted_hotspot():
    frame = np.full((4, 48, 64), 25.0, np.float32)
    frame[:, 24:32, 40:48] = 70.0                                  # the planted hotspot: region (3, 5)
    frame[:, 8:16, 8:16] = 35.0                                    # a warm but harmless region

    def risk_fn(frames):                                           # risk rises with the hottest pixel
        return 1.0 / (1.0 + np.exp(-(frames[:, -1].max(axis=(1, 2)) - 70.0) / 3.0))
    a = causrun.attribute(risk_fn, frame, sigma_c=5.0, samples=16, seed=0)
    assert a.mask.shape == (48, 64) and a.mask[24:32, 40:48].all()
    assert a.mask.sum() == 64                                      # that region only
    assert a.region_effect.argmax() == 3 * 8 + 5
    assert a.intervention[24:32, 40:48].mean() < -0.2              # cooling it removes most of the risk
    assert abs(a.intervention[8:16, 8:16].mean()) < 0.05
    off = np.ones((48, 64), bool)
    off[:, 32:] = False                                            # a cell that does not cover the hotspot
    b = causrun.attribute(risk_fn, frame, sigma_c=5.0, samples=8, seed=0, cell_mask=off)
    assert b.mask[:, 32:].sum() == 0 and (b.intervention[:, 32:] == 0).all()


class ToyEnv:
    """Contextual toy: obs is a sign; head 0 must match it; head 1 is an energy cost (cheapest = 0)."""

    def __init__(self, n=16):
        self.n = n

    def reset(self, rng):
        self.rng, self.t = rng, np.zeros(self.n, int)
        self.x = rng.choice([-1.0, 1.0], self.n)
        return self.x[:, None].astype(np.float32)

    def step(self, a):
        r = (a[:, 0] == (self.x > 0)).astype(np.float32) - 0.3 * a[:, 1]
        self.t += 1
        done = self.t >= 4
        self.t[done] = 0
        self.x = self.rng.choice([-1.0, 1.0], self.n)
        return self.x[:, None].astype(np.float32), r, done


def test_ppo_improves_reward():
    _, params, hist = ppo.train(ToyEnv(), (2, 3), 1, iters=15, n_steps=8, seed=0, lr=1e-2, hidden=16)
    first, last = hist[0]["mean_reward"], np.mean([h["mean_reward"] for h in hist[-3:]])
    assert last > first + 0.3 and last > 0.75


def test_gae_matches_hand_computation():
    r = np.array([[1.0], [0.0], [1.0]], np.float32)
    v = np.array([[0.5], [0.5], [0.5]], np.float32)
    d = np.array([[0.0], [1.0], [0.0]], np.float32)
    adv, ret = ppo.gae(r, v, d, np.array([0.25], np.float32), gamma=0.9, lam=0.5)
    d2 = 1.0 + 0.9 * 0.25 - 0.5
    d1 = 0.0 - 0.5                                                  # episode ends after step 1
    d0 = 1.0 + 0.9 * 0.5 - 0.5
    assert np.allclose(adv[:, 0], [d0 + 0.45 * d1, d1, d2])


def test_png_round_trip(tmp_path):
    img = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    png.write_png(str(tmp_path / "a.png"), img)
    assert np.array_equal(png.read_png(str(tmp_path / "a.png")), img)


def _synthetic_dataset(n_pos=3, n_neg=3, T=40, seed=0):
    rng = np.random.default_rng(seed)
    names = ["voltage_v", "current_a", "ambient_c", "dt_c", "cell_temp_c", "dv_v", "soc", "ir_max_c", "ir_dmax_c",
             "ae_hit_rate_hz", "ae_max_amplitude_db", "ae_band_20_30khz_log10", "ae_band_30_40khz_log10", "ae_band_50_60khz_log10"]
    runs = []
    for i in range(n_pos + n_neg):
        pos = i < n_pos
        t = np.arange(T, dtype=np.float64) + 1
        heat = np.where(pos, np.clip(t - 15, 0, None) * 4.0, 0.0)
        fr = 25 + rng.normal(0, 0.3, (T, 48, 64))
        fr[:, 16:32, 16:40] += heat[:, None, None]
        f = np.full((T, len(names)), np.nan, np.float32)
        f[:, 0] = 4.2 + 0.01 * heat + rng.normal(0, 0.01, T)
        f[:, 1], f[:, 2], f[:, 4] = 1.0, 25.0, 25 + heat
        f[:, 3] = np.abs(np.diff(np.concatenate([[25], 25 + heat])))
        f[:, 5], f[:, 7], f[:, 8], f[:, 9] = 0.01, fr.max((1, 2)), 0.1, 1.0 + heat / 10
        f[:, 10] = 50 + heat / 2
        f[:, 11], f[:, 12] = rng.normal(-1, 0.1, T) + heat / 50, rng.normal(-1.5, 0.1, T)
        target = ((t >= 20) & pos).astype(np.int8)
        runs.append(data.Run(index=i, name=f"r{i}", uuid=f"u{i}", chemistry="NCM", has_onset=pos, onset_s=30.0 if pos else np.nan,
                             t_s=t, features=f, target=target, post_onset=(t >= 30) & pos, mask=np.ones(T, bool),
                             extras={"ir_frames_c": fr.astype(np.float16)}))
    return data.Dataset(names, runs, {})


def test_chain_trains_and_serves_online_like_offline(tmp_path, monkeypatch):
    ds = _synthetic_dataset()
    monkeypatch.setattr(common, "DEFAULTS", dict(window=3, dilation=2, patch=16))
    split = ([0, 1, 3, 4], [2, 5], [2, 5])
    out = str(tmp_path / "chain")
    hp = {"epochs": 1, "steps": 2}
    for part in ("st-former", "fuse-gen", "degra-gnn"):
        cfg = chain.train(part, None, out, seed=0, hp_over=hp, split=split, ds=ds)
        assert 0.0 <= cfg["val_auc"] <= 1.0 and len(cfg["training"]) >= 1
    c = chain.Chain(out)
    assert c.parts == ["st-former", "fuse-gen", "degra-gnn"]
    assert c.graph["box"][0] <= 16 and c.graph["box"][1] >= 32        # the heated area is inside the cell box
    prep = common.prepare(ds.subset([2]), c.norm)
    offline = c.score(chain.predict_runs(c, prep)[0])
    run = ds.runs[2]
    lines = [json.dumps({"type": "session", "uuid": run.uuid, "name": run.name, "rate_hz": 1, "feature_names": ds.feature_names})]
    for k in range(len(run.t_s)):
        lines.append(json.dumps({"type": "frame", "t": run.t_s[k] - 0.5, "stream": "ir0", "id": k,
                                 "pixels_c": {"width": 64, "height": 48, "data": run.extras["ir_frames_c"][k].astype(float).ravel().tolist()}}))
        lines.append(json.dumps({"type": "tick", "t": run.t_s[k], "k": k,
                                 "features": {n: (None if np.isnan(v) else float(v)) for n, v in zip(ds.feature_names, run.features[k])}}))
    from trw_models import serve
    o = io.StringIO()
    assert serve.run(MMOnline(out), io.StringIO("\n".join(lines) + "\n"), o) == len(run.t_s)
    online = np.array([json.loads(l)["score"] for l in o.getvalue().splitlines()])
    assert np.allclose(online, np.clip(offline, 0, 1), atol=1e-4)
