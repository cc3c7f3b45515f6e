"""The replay protocol's detector side (schemas/predictor-protocol.md): read replay
lines on stdin, answer every `tick` with exactly one `{"t", "score"}` line.

A model implements `OnlineModel`: `reset(feature_names)` at the session header and
`step(features: dict, events: list) -> float` per tick, where `events` are the
non-tick lines (frames, AE hits, markers) seen since the previous tick."""
from __future__ import annotations

import json
import math
import sys
from typing import Protocol


class OnlineModel(Protocol):
    def reset(self, feature_names: list) -> None: ...
    def step(self, features: dict, events: list) -> float: ...


def run(model: OnlineModel, inp=sys.stdin, out=sys.stdout) -> int:
    """A model with `wants_events = False` gets no events: lines that are neither session, tick
    nor end are then skipped without being parsed (AE hits can be thousands per second)."""
    events: list = []
    ticks = 0
    skip_events = not getattr(model, "wants_events", True)
    for raw in inp:
        if skip_events and not raw.startswith(('{"type":"tick"', '{"type":"session"', '{"type":"end"')) and '"type":"ae_hit"' in raw[:20]:
            continue
        raw = raw.strip()
        if not raw:
            continue
        try:
            e = json.loads(raw)
        except json.JSONDecodeError as err:
            print(f"trw_models serve: bad input line ({err}): {raw[:80]}", file=sys.stderr)
            continue
        kind = e.get("type")
        if kind == "session":
            model.reset(list(e.get("feature_names", [])))
            events = []
        elif kind == "tick":
            feats = {k: (math.nan if v is None else float(v)) for k, v in e.get("features", {}).items()}
            s = float(model.step(feats, events))
            if not math.isfinite(s):
                s = 0.0
            out.write(json.dumps({"t": e["t"], "score": min(1.0, max(0.0, s))}) + "\n")
            out.flush()
            events = []
            ticks += 1
        elif kind == "end":
            break
        else:
            events.append(e)
    return ticks
