"""Hysteresis and minimum durations: turn a sampled value into alarm episodes. Pure, no I/O.

Phases: ``normal`` -> (raise condition seen) ``pending_on`` -> (held ``min_on``) ``active`` -> (clear
condition seen) ``pending_off`` -> (held ``min_off``) ``normal``. A sample that breaks a pending phase
sends it back. With ``above``: raise when value > on, clear when value <= off (off <= on); with
``below`` mirrored. Between off and on nothing changes, so a signal flapping around the raise level
stays one event. Durations are measured between sample timestamps; missing samples change nothing.
An episode starts at the first sample of its pending phase and ends at the first sample of the clear
phase that was held long enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Condition:
    direction: str          # 'above' or 'below'
    on: float
    off: float
    min_on: pd.Timedelta = pd.Timedelta(0)
    min_off: pd.Timedelta = pd.Timedelta(0)

    def raising(self, v: float) -> bool:
        return v > self.on if self.direction == "above" else v < self.on

    def clearing(self, v: float) -> bool:
        return v <= self.off if self.direction == "above" else v >= self.off

    def worse(self, a: float | None, b: float) -> float:
        if a is None:
            return b
        return max(a, b) if self.direction == "above" else min(a, b)


@dataclass
class State:
    phase: str = "normal"
    since: pd.Timestamp | None = None       # start of the pending phase
    last_ts: pd.Timestamp | None = None     # newest sample evaluated
    event_id: int | None = None


@dataclass(frozen=True)
class Transition:
    kind: str               # 'raise' or 'clear'
    ts: pd.Timestamp        # episode start (raise) or end (clear)
    value: float            # value at the decisive sample
    peak: float             # worst value seen since the pending phase began (raise) / in the episode


def step(state: State, samples: pd.Series, cond: Condition) -> list[Transition]:
    """Advance ``state`` over ``samples`` (index: timestamps, ascending; those at or before
    ``state.last_ts`` are ignored) and return the transitions, in order."""
    out: list[Transition] = []
    peak: float | None = None
    for ts, v in samples.sort_index().items():
        if state.last_ts is not None and ts <= state.last_ts:
            continue
        state.last_ts = ts
        if v is None or pd.isna(v):
            continue
        v = float(v)
        if state.phase == "normal":
            if cond.raising(v):
                state.phase, state.since, peak = "pending_on", ts, v
        elif state.phase == "pending_on":
            if cond.raising(v):
                peak = cond.worse(peak, v)
            else:
                state.phase, state.since, peak = "normal", None, None
                continue
        elif state.phase == "active":
            peak = cond.worse(peak, v) if not cond.clearing(v) else peak
            if cond.clearing(v):
                state.phase, state.since = "pending_off", ts
        elif state.phase == "pending_off" and not cond.clearing(v):
            state.phase, state.since = "active", None
            peak = cond.worse(peak, v)
            continue
        if state.phase == "pending_on" and ts - state.since >= cond.min_on:
            out.append(Transition("raise", state.since, v, peak if peak is not None else v))
            state.phase, state.since = "active", None
        if state.phase == "pending_off" and ts - state.since >= cond.min_off:
            out.append(Transition("clear", state.since, v, peak if peak is not None else v))
            state.phase, state.since, peak = "normal", None, None
    return out


def episodes(samples: pd.Series, cond: Condition) -> list[tuple[pd.Timestamp, pd.Timestamp | None]]:
    """(start, end or None while open) of every episode in ``samples`` from a normal start."""
    spans: list[tuple[pd.Timestamp, pd.Timestamp | None]] = []
    for t in step(State(), samples, cond):
        if t.kind == "raise":
            spans.append((t.ts, None))
        else:
            spans[-1] = (spans[-1][0], t.ts)
    return spans
