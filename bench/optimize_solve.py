"""Optimiser solve times: chilled-water decision (budget 1 s) and day-ahead air schedule (budget 5 s).

    python bench/optimize_solve.py

Fits the models on a short commissioning history, then times 200 chilled-water decisions from
states met in a closed-loop July day and 10 day-ahead compressed-air MILPs. Ratios are against the
budgets in the issue (measured time / budget: below 1 is within budget).
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    from ems.optimize.air_control import day_ahead
    from ems.optimize.chw_control import ChwOptimiser, fit_models
    from ems.optimize.closed_loop import production_plan, run_controller
    from ems.optimize.config import plant_config
    from ems.optimize.evaluate import _plan_fn
    from ems.optimize.fit_air import fit_air
    from ems.optimize.history import training_history

    pc = plant_config("FS")
    hist = training_history("FS", "2024-06-01", "2024-07-20")
    pm, zm = fit_models(hist, production_plan("FS", hist.index), pc.chw)
    opt = ChwOptimiser(pc.chw, pm, zm, plan=_plan_fn("FS", "2025-07-08", "2025-07-10"))
    times: list[float] = []

    def decide(obs, last):
        t0 = time.perf_counter()
        out = opt.decide(obs, last)
        times.append(time.perf_counter() - t0)
        return out.decision, {}

    run_controller("FS", decide, "2025-07-08", "2025-07-10")
    chw = np.array(times[1:])
    air_model = fit_air(hist, production_plan("FS", hist.index)["intensity"],
                        {c: k for c, k, _ in pc.air.compressors})
    import pandas as pd

    air = []
    for d in range(10):
        idx = pd.date_range(pd.Timestamp("2025-07-01") + pd.Timedelta(days=d, minutes=15), periods=96, freq="15min")
        t0 = time.perf_counter()
        day_ahead(air_model, pc.air, production_plan("FS", idx)["intensity"].to_numpy())
        air.append(time.perf_counter() - t0)
    air = np.array(air)
    print(f"chilled-water decision: mean {chw.mean() * 1000:.1f} ms, p99 {np.percentile(chw, 99) * 1000:.1f} ms, "
          f"max {chw.max() * 1000:.1f} ms over {chw.size} decisions (budget 1000 ms)")
    print(f"air day-ahead MILP: mean {air.mean():.2f} s, max {air.max():.2f} s over {air.size} days (budget 5 s)")
    print(f"bench: optimize_solve chw_p99_ms={np.percentile(chw, 99) * 1000:.1f} chw_ratio_vs_budget="
          f"{np.percentile(chw, 99):.3f} air_max_s={air.max():.2f} air_ratio_vs_budget={air.max() / 5.0:.3f}")


if __name__ == "__main__":
    main()
