"""Early stopping on validation loss, shared by the trainers."""
from __future__ import annotations

import math


class EarlyStopping:
    """Keeps the parameters of the best validation loss; `update` returns True when
    `patience` epochs in a row did not improve it by more than `min_delta`."""

    def __init__(self, params, patience: int, min_delta: float = 1e-6):
        self.best, self.best_params, self.bad = math.inf, params, 0
        self.patience, self.min_delta = patience, min_delta

    def update(self, loss: float, params) -> bool:
        if loss < self.best - self.min_delta:
            self.best, self.best_params, self.bad = loss, params, 0
            return False
        self.bad += 1
        return self.bad >= self.patience
