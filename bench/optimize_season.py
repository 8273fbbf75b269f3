"""Season diagnostics for the chilled-water optimiser (development aid, not a benchmark of record).

    python bench/optimize_season.py FS [start end]

Caches the commissioning history and the baseline runs under /tmp/opt, runs the optimiser in
closed loop and prints energy by component and violation zone-hours by hour of day and weekday,
for the baseline and the optimiser.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

CACHE = Path("/tmp/opt")


def cached(name: str, fn):
    CACHE.mkdir(exist_ok=True)
    p = CACHE / f"{name}.pkl"
    if p.exists():
        return pd.read_pickle(p)
    df = fn()
    df.to_pickle(p)
    return df


def violations(df, zones):
    out = pd.Series(0.0, index=df.index)
    for j, zl in enumerate(zones):
        on = df[f"ws{j + 1}_ahu_kw"] > 0
        out += (on & ((df[f"ws{j + 1}_t_c"] > zl.t_max_c) | (df[f"ws{j + 1}_rh_pct"] > zl.rh_max_pct))) * 0.25
    return out


def main() -> None:
    from ems.optimize.chw_control import ChwOptimiser, fit_models
    from ems.optimize.closed_loop import production_plan, run_controller
    from ems.optimize.config import plant_config
    from ems.optimize.evaluate import TRAIN, _plan_fn
    from ems.optimize.history import training_history
    from ems.sim.twin import run_policy

    plant = sys.argv[1] if len(sys.argv) > 1 else "FS"
    start, end = (sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else ("2025-05-01", "2025-10-01")
    tag = f"{plant}_{start}_{end}"
    pc = plant_config(plant)
    if len(sys.argv) > 4:      # config overrides for experiments: key=value ...
        import dataclasses

        kw = {k: type(getattr(pc.chw, k))(v) for k, v in (a.split("=") for a in sys.argv[4:])}
        pc = dataclasses.replace(pc, chw=dataclasses.replace(pc.chw, **kw))
        tag += "_" + "_".join(sys.argv[4:])
    hist = cached(f"hist_{plant}", lambda: training_history(plant, *TRAIN))
    base = cached(f"base_{plant}_{start}_{end}", lambda: run_policy(plant, "baseline", start, end))
    pm, zm = fit_models(hist, production_plan(plant, hist.index), pc.chw)
    opt = ChwOptimiser(pc.chw, pm, zm, plan=_plan_fn(plant, start, end))
    t0 = time.perf_counter()
    run = run_controller(plant, lambda o, last: (opt.decide(o, last).decision, {}), start, end)
    print(f"run {time.perf_counter() - t0:.0f} s, solve max {run['solve_s'].max():.3f} s")
    run.to_pickle(CACHE / f"opt_{tag}.pkl")
    cols = ["chp_kw"] + [c for c in ("chillers_kw", "chwp_kw", "cwp_kw", "ct_kw") if c in run]
    cols += [c for c in run.columns if c.startswith("ch") and c[2:-3].isdigit() and c.endswith("_kw")]
    print(pd.DataFrame({"base": base[cols].sum() / 4, "opt": run[cols].sum() / 4}).round(0))
    vb, vo = violations(base, pc.chw.zones), violations(run, pc.chw.zones)
    print("violation zone-h base", vb.sum(), "opt", vo.sum())
    d = pd.DataFrame({"base": vb, "opt": vo})
    print(d.groupby(d.index.hour).sum().query("base > 0 or opt > 0"))
    print(d.groupby(d.index.day_of_week).sum())
    diff = (vo - vb).groupby(vo.index.date).sum()
    print(diff[diff != 0])


if __name__ == "__main__":
    main()
