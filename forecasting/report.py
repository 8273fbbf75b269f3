"""Backtest report as Markdown (and a PNG plot beside it when matplotlib is installed)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from forecasting.backtest import BacktestResult
from forecasting.contract import step_text

_COLS = [("mae", "MAE", "{:.4g}"), ("rmse", "RMSE", "{:.4g}"), ("cv_rmse", "CV(RMSE)", "{:.1%}"),
         ("nmbe", "NMBE", "{:+.1%}"), ("mase", "MASE", "{:.3f}"), ("pinball", "pinball", "{:.4g}"),
         ("coverage", "coverage", "{:.1%}"), ("skill_day", "skill vs day", "{:+.1%}"),
         ("skill_week", "skill vs week", "{:+.1%}")]


def _fmt(value, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return pattern.format(value)


def markdown(result: BacktestResult, title: str = "Forecast backtest", source: str | None = None,
             plot: str | None = None) -> str:
    spec = result.spec
    lines = [f"# {title}", ""]
    if source:
        lines.append(f"Data: `{source}`  ")
    lines += [f"Target: `{spec.target}`, step {step_text(spec.freq)}, horizon {spec.horizon} steps "
              f"({step_text(spec.horizon * spec.freq)}), quantiles {', '.join(spec.labels)}  ",
              f"Origins: {len(result.origins)} ({result.origins[0]} .. {result.origins[-1]}); each model sees only "
              f"the data up to its origin; future-known inputs: {', '.join(spec.future_known) or 'none'}", "",
              "| model | " + " | ".join(c[1] for c in _COLS) + " | fit s |",
              "|---|" + "---:|" * (len(_COLS) + 1)]
    for name, m in result.metrics.items():
        cells = [_fmt(m.get(key), pat) for key, _, pat in _COLS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {result.fit_seconds.get(name, 0):.2f} |")
    lines.append("")
    best = result.best_model()
    if best:
        lines.append(f"Lowest MAE: **{best}**. Coverage is the share of actual values inside the "
                     f"{spec.labels[0]}-{spec.labels[-1]} band. CV(RMSE) and NMBE as in ASHRAE Guideline 14; "
                     "MASE scaled by the in-sample one-day seasonal naive MAE.")
    for name, why in result.failures.items():
        lines.append(f"- {name} failed: {why}")
    if plot:
        lines += ["", f"![last origin]({plot})"]
    return "\n".join(lines) + "\n"


def plot_last_origin(result: BacktestResult, path: Path) -> bool:
    """Actual vs the median and band of every model at the last origin; False when matplotlib is absent."""
    if importlib.util.find_spec("matplotlib") is None or result.forecasts.empty:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fc = result.forecasts[result.forecasts["origin"] == result.origins[-1]]
    lo, hi = result.spec.labels[0], result.spec.labels[-1]
    fig, ax = plt.subplots(figsize=(10, 4))
    for i, (name, g) in enumerate(fc.groupby("model", sort=False)):
        if i == 0:
            ax.plot(g["ts"], g["actual"], color="black", lw=1.5, label="actual")
        (line,) = ax.plot(g["ts"], g["p50"], lw=1, label=name)
        if name not in ("naive_day", "naive_week"):
            ax.fill_between(g["ts"], g[lo], g[hi], alpha=0.12, color=line.get_color())
    ax.set_title(f"{result.spec.target}: forecasts issued {result.origins[-1]}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_report(result: BacktestResult, path: str | Path, source: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = path.with_suffix(".png")
    plotted = plot_last_origin(result, png)
    path.write_text(markdown(result, source=source, plot=png.name if plotted else None), encoding="utf-8")
    return path
