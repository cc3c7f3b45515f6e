"""PPO (issue 12, Eqs. 21-26) for factorised discrete actions: a tanh MLP with one categorical head per
action dimension and a value head; clipped surrogate objective (Eq. 22), generalised advantage
estimation (Eqs. 23-24), value loss and entropy bonus (Eq. 25-26).

An environment is vectorised over E copies: reset(rng) -> obs (E, D); step(actions (E, K)) ->
(obs, reward (E,), done (E,)), resetting finished copies itself."""
from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class Policy(nn.Module):
    heads: tuple
    hidden: int = 64

    @nn.compact
    def __call__(self, x):
        h = nn.tanh(nn.Dense(self.hidden, name="pi0")(x))
        h = nn.tanh(nn.Dense(self.hidden, name="pi1")(h))
        logits = tuple(nn.Dense(n, name=f"head{i}")(h) for i, n in enumerate(self.heads))
        v = nn.Dense(1, name="value")(nn.tanh(nn.Dense(self.hidden, name="v0")(x)))[..., 0]
        return logits, v


def log_prob(logits, actions):
    return sum(jnp.take_along_axis(jax.nn.log_softmax(lg), actions[..., i:i + 1], -1)[..., 0] for i, lg in enumerate(logits))


def entropy(logits):
    return sum(-(jax.nn.softmax(lg) * jax.nn.log_softmax(lg)).sum(-1) for lg in logits)


def gae(rewards, values, dones, last_value, gamma, lam):
    """Eq. 23-24: A_t = sum_l (gamma lam)^l delta_{t+l}, delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t)."""
    T = rewards.shape[0]
    adv = np.zeros_like(rewards)
    last = np.zeros_like(last_value)
    for t in reversed(range(T)):
        nxt = last_value if t == T - 1 else values[t + 1]
        nonterm = 1.0 - dones[t]
        delta = rewards[t] + gamma * nxt * nonterm - values[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
    return adv, adv + values


def act(policy, params, obs, rng: np.random.Generator | None):
    """Samples actions (or the argmax when rng is None); returns actions (E, K), log-probs, values."""
    logits, v = policy.apply({"params": params}, jnp.asarray(obs, jnp.float32))
    acts = []
    for lg in logits:
        p = np.asarray(jax.nn.softmax(lg), np.float64)
        if rng is None:
            acts.append(p.argmax(-1))
        else:
            u = rng.random((p.shape[0], 1))
            acts.append(np.minimum((p.cumsum(-1) < u).sum(-1), p.shape[-1] - 1))
    a = np.stack(acts, -1).astype(np.int32)
    return a, np.asarray(log_prob(logits, jnp.asarray(a))), np.asarray(v)


def train(env, heads: tuple, obs_dim: int, iters: int = 40, n_steps: int = 24, seed: int = 0, lr: float = 3e-3,
          gamma: float = 0.95, lam: float = 0.9, clip: float = 0.2, epochs: int = 4, minibatches: int = 4,
          vf_coef: float = 0.5, ent_coef: float = 0.01, hidden: int = 64, log=None):
    """`iters` PPO iterations, each: roll the policy out for `n_steps` steps in every copy of `env`, GAE,
    then `epochs` passes over the rollout in `minibatches` minibatches. Returns (policy, last params,
    history of {"iter", "mean_reward", "s" (seconds since the start), env.last_info means}).

    Why this is not training.fit (the loop of the supervised trainers), and keeps the last policy:
    PPO has no fixed training set and no validation criterion. Each iteration's data is collected
    by the current policy, so its "epochs" are passes over data that is thrown away after the
    iteration, not epochs over a dataset; and the only measure available during training, the mean
    reward of an iteration, comes from training episodes of the policy being trained, so selecting
    or stopping on it would select on training data. A fixed number of iterations (sensorrl's
    --iters) is the stopping rule; the policy is evaluated afterwards on held-out runs (mm-eval --policy)."""
    policy = Policy(tuple(heads), hidden)
    params = policy.init(jax.random.PRNGKey(seed), jnp.zeros((1, obs_dim)))["params"]
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(lr))
    opt = tx.init(params)

    def loss_fn(params, obs, a, old_logp, adv, ret):
        logits, v = policy.apply({"params": params}, obs)
        ratio = jnp.exp(log_prob(logits, a) - old_logp)
        pg = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv))     # Eq. 22
        vl = jnp.mean((v - ret) ** 2)
        ent = jnp.mean(entropy(logits))
        return pg + vf_coef * vl - ent_coef * ent, (pg, vl, ent)                                 # Eq. 25-26

    @jax.jit
    def update(params, opt, obs, a, old_logp, adv, ret):
        (l, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(params, obs, a, old_logp, adv, ret)
        u, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, u), opt, l

    rng = np.random.default_rng(seed)
    obs = env.reset(rng)
    history = []
    t0 = time.time()
    for it in range(iters):
        O, A, LP, V, R, D = [], [], [], [], [], []
        infos = []
        for _ in range(n_steps):
            a, lp, v = act(policy, params, obs, rng)
            nobs, r, d = env.step(a)
            O.append(obs); A.append(a); LP.append(lp); V.append(v); R.append(r); D.append(d.astype(np.float32))
            infos.append(getattr(env, "last_info", {}))
            obs = nobs
        _, _, last_v = act(policy, params, obs, None)
        R, V, D = np.array(R, np.float32), np.array(V, np.float32), np.array(D, np.float32)
        adv, ret = gae(R, V, D, last_v.astype(np.float32), gamma, lam)
        n = R.size
        flat = lambda x: np.asarray(x).reshape((n,) + np.asarray(x).shape[2:])
        Of, Af, LPf, ADV, RET = flat(O), flat(A), flat(LP), flat(adv), flat(ret)
        ADV = (ADV - ADV.mean()) / (ADV.std() + 1e-8)
        for _ in range(epochs):
            perm = rng.permutation(n)
            for mb in np.array_split(perm, minibatches):
                params, opt, _ = update(params, opt, jnp.asarray(Of[mb]), jnp.asarray(Af[mb]), jnp.asarray(LPf[mb]),
                                        jnp.asarray(ADV[mb]), jnp.asarray(RET[mb]))
        entry = {"iter": it + 1, "mean_reward": float(R.mean()), "s": round(time.time() - t0, 1)}
        for k in (infos[0] or {}):
            entry[k] = float(np.mean([i[k] for i in infos]))
        history.append(entry)
        if log:
            log(entry)
    return policy, params, history
