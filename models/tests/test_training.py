"""The shared training loop (training.fit): early stopping and model selection on the validation
criterion only, the best epoch's parameters returned, determinism given the seeds."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from trw_models import training


def scripted(val_losses, train_losses=None):
    """An 'epoch' that sets the parameters to the epoch number; validation and training losses are scripted."""
    def train_epoch(st):
        st.params = st.params + 1
        return {"train_loss": (train_losses or [0.0] * 99)[st.params - 1]}

    def validate(p):
        return {"val_loss": val_losses[p - 1]}

    return train_epoch, validate


def state(params=0, seed=0):
    return training.TrainState(params, None, jax.random.PRNGKey(seed), np.random.default_rng(seed))


def test_stops_after_patience_epochs_without_improvement_and_returns_the_best_epoch():
    logs = []
    train_epoch, validate = scripted([0.9, 0.5, 0.6, 0.7, 0.1, 0.05])
    res = training.fit(state(), train_epoch, validate, epochs=6, patience=2, log=logs.append)
    assert res.params == 2 and res.best == 0.5 and res.best_epoch == 2 and res.stopped_early
    assert [r["epoch"] for r in res.history] == [1, 2, 3, 4]        # epochs 5 and 6 never ran
    assert res.history[1]["val_loss"] == 0.5 and "seconds" in res.history[1]
    assert logs[-1] == {"early_stop": 4, "best_val_loss": 0.5, "best_epoch": 2}


def test_min_delta_and_nan_count_as_no_improvement():
    train_epoch, validate = scripted([0.5, 0.5 - 1e-5, math.nan, 0.2])
    res = training.fit(state(), train_epoch, validate, epochs=4, patience=2, min_delta=1e-4)
    assert res.params == 1 and res.best_epoch == 1 and len(res.history) == 3


def test_selection_uses_the_named_validation_criterion_not_the_training_loss():
    def train_epoch(st):
        st.params += 1
        return {"train_loss": [0.1, 0.9, 0.9][st.params - 1], "val_loss": 0.0}     # a training metric named like one

    res = training.fit(state(), train_epoch, lambda p: {"val_logloss": [0.9, 0.3, 0.5][p - 1]},
                       epochs=3, patience=5, criterion="val_logloss")
    assert res.params == 2 and res.best == 0.3 and not res.stopped_early


def test_without_validation_runs_every_epoch_and_keeps_the_last_parameters():
    # training loss best at epoch 1: it must not select nor stop
    train_epoch, _ = scripted(None, train_losses=[0.1, 0.5, 0.9, 0.9])
    res = training.fit(state(), train_epoch, None, epochs=4, patience=1)
    assert res.params == 4 and math.isnan(res.best) and res.best_epoch is None and len(res.history) == 4
    assert all(set(r) == {"epoch", "train_loss", "seconds"} for r in res.history)


def test_time_budget_stops_after_the_epoch_that_exceeds_it():
    logs = []
    train_epoch, validate = scripted([0.5, 0.4, 0.3])
    res = training.fit(state(), train_epoch, validate, epochs=3, patience=3, log=logs.append, max_seconds=1e-9)
    assert len(res.history) == 1 and res.params == 1 and logs[-1] == {"time_budget_s": 1e-9, "stopped_after_epoch": 1}


def linear_fit(seed, epochs=5):
    """Least squares by minibatch Adam with dropout-like noise from the key: every random stream used."""
    rng = np.random.default_rng(123)
    x = rng.normal(size=(96, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], np.float32)
    xv, yv = x[:32], y[:32]
    tx = optax.adam(0.05)

    def loss_fn(w, xb, yb, key):
        keep = jax.random.bernoulli(key, 0.9, xb.shape)
        return jnp.mean(((xb * keep) @ w - yb) ** 2)

    update = training.make_update(tx, loss_fn)
    w0 = jnp.zeros(3, jnp.float32)
    st = training.TrainState(w0, tx.init(w0), jax.random.PRNGKey(seed), np.random.default_rng(seed))

    def train_epoch(st):
        losses = []
        for b in np.array_split(st.rng.permutation(96), 6):
            st.params, st.opt_state, loss, aux = update(st.params, st.opt_state, x[b], y[b], st.next_key())
            assert aux is None
            losses.append(float(loss))
        return {"train_loss": float(np.mean(losses))}

    def validate(w):
        return {"val_loss": float(jnp.mean((xv @ w - yv) ** 2))}

    return training.fit(st, train_epoch, validate, epochs=epochs, patience=2), validate(w0)["val_loss"]


def test_training_is_deterministic_given_the_seed_and_lowers_the_validation_loss():
    (a, v0), (b, _), (c, _) = linear_fit(0), linear_fit(0), linear_fit(1)
    assert np.array_equal(np.asarray(a.params), np.asarray(b.params))
    assert [r["val_loss"] for r in a.history] == [r["val_loss"] for r in b.history]
    assert not np.array_equal(np.asarray(a.params), np.asarray(c.params))
    assert a.best == min(r["val_loss"] for r in a.history) and a.best < 0.5 * v0       # v0: the loss at w = 0
