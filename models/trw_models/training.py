"""The one training loop of every supervised trainer: recurrent.py (dp-lstm,
lstm, attn-lstm), wavelet_cnn.py and mm/chain.py (ST-Former, FUSE-GEN,
DEGRA-GNN).

`fit` runs up to `epochs` epochs. An epoch is the trainer's pass of optimiser
updates over its minibatches (`train_epoch`, which returns the epoch's training
metrics); after it, `validate` evaluates the model on the validation runs and
returns metrics that include the selection criterion (default "val_loss",
lower is better). Only that validation criterion selects: the parameters of
the best epoch are kept and returned, and training stops once `patience`
epochs in a row did not lower it by more than `min_delta` (a NaN criterion, a
diverged model, counts as no improvement). Training data never selects: a
trainer without validation runs passes `validate=None`, and then every epoch
runs and the last parameters are returned (best criterion NaN).

Every epoch is one record {"epoch", training metrics, validation metrics,
"seconds" (of that epoch)} appended to the history and passed to `log`; an
early stop logs {"early_stop": epoch, "best_<criterion>": value, "best_epoch"},
a time budget reached {"time_budget_s": s, "stopped_after_epoch": epoch}.

Determinism: the loop draws no randomness itself. A trainer's randomness lives
in its TrainState: `key` (JAX PRNG: dropout, VAE sampling; `next_key` splits
it) and `rng` (numpy: piece offsets, batch order, sampled batches), both seeded
by the trainer; the same seed gives the same parameters bit for bit.

Not here: the SENSOR-RL policy (mm/ppo.py) is reinforcement learning. Its
"epochs" are PPO iterations that collect fresh on-policy episodes from the
training runs, and no held-out evaluation exists to select an iteration on
(the mean reward of an iteration is measured on training episodes, by the
policy that is being trained): it runs a fixed number of iterations and keeps
the last policy. See ppo.train.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import numpy as np
import optax


class EarlyStopping:
    """Keeps the parameters of the best (lowest) criterion; `update` returns True when `patience`
    updates in a row did not improve it by more than `min_delta`. NaN never improves."""

    def __init__(self, params, patience: int, min_delta: float = 1e-6):
        self.best, self.best_params, self.bad = math.inf, params, 0
        self.best_epoch: int | None = None
        self.patience, self.min_delta = patience, min_delta

    def update(self, loss: float, params, epoch: int | None = None) -> bool:
        if loss < self.best - self.min_delta:
            self.best, self.best_params, self.bad, self.best_epoch = loss, params, 0, epoch
            return False
        self.bad += 1
        return self.bad >= self.patience


@dataclass
class TrainState:
    """What an epoch changes: the parameters, the optimiser state and the two random streams."""
    params: Any
    opt_state: Any
    key: Any                    # jax.random.PRNGKey
    rng: np.random.Generator

    def next_key(self):
        """A fresh subkey; advances `key`."""
        self.key, sub = jax.random.split(self.key)
        return sub


def make_update(tx: optax.GradientTransformation, loss_fn: Callable, has_aux: bool = False):
    """One jitted optimiser step: update(params, opt_state, *batch) -> (params, opt_state, loss, aux)
    with loss (and aux when has_aux) = loss_fn(params, *batch); aux is None without has_aux."""

    @jax.jit
    def update(params, opt_state, *batch):
        if has_aux:
            (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(params, *batch)
        else:
            (loss, g), aux = jax.value_and_grad(loss_fn)(params, *batch), None
        upd, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss, aux

    return update


@dataclass
class FitResult:
    params: Any                 # the best epoch's (validation), else the last epoch's
    best: float                 # the best validation criterion; NaN without validation
    best_epoch: int | None
    history: list = field(default_factory=list)
    stopped_early: bool = False


def fit(state: TrainState, train_epoch: Callable[[TrainState], dict], validate: Callable[[Any], dict] | None, *,
        epochs: int, patience: int, min_delta: float = 1e-6, criterion: str = "val_loss",
        log: Callable[[dict], None] | None = None, max_seconds: float | None = None) -> FitResult:
    """Trains with early stopping on the validation criterion; see the module's documentation."""
    log = log or (lambda rec: None)
    stopper = EarlyStopping(state.params, patience, min_delta)
    history: list = []
    stopped = False
    t_start = time.time()
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        rec = {"epoch": epoch, **train_epoch(state)}
        if validate is not None:
            rec.update(validate(state.params))
        rec["seconds"] = round(time.time() - t0, 1)
        history.append(rec)
        log(rec)
        if validate is not None and stopper.update(float(rec.get(criterion, math.nan)), state.params, epoch):
            log({"early_stop": epoch, f"best_{criterion}": stopper.best, "best_epoch": stopper.best_epoch})
            stopped = True
            break
        if max_seconds and time.time() - t_start > max_seconds:
            log({"time_budget_s": max_seconds, "stopped_after_epoch": epoch})
            break
    if validate is None or stopper.best_epoch is None:
        # no validation runs (or none of its criteria was finite): nothing to select on
        return FitResult(state.params, math.nan, None, history, stopped)
    return FitResult(stopper.best_params, stopper.best, stopper.best_epoch, history, stopped)
