"""Plot a typical summer week of a demo plant's chiller plant and compressed-air station (docs figure).

    python -m ems.sim.plot [--plant FS] [--start 2025-07-14] [--out docs/img/summer-week-FS.png]

Needs matplotlib (the ``docs`` extra); the product itself does not.
"""

from __future__ import annotations

import argparse

import pandas as pd

from ems.sim.twin import run_policy


def plot_week(plant: str, start: str, out: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = str((pd.Timestamp(start) + pd.Timedelta("7D")).date())
    df = run_policy(plant, "baseline", start, end)
    fig, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True)
    axes[0].plot(df.index, df["chw_load_kw"], label="cooling load kW")
    axes[0].plot(df.index, df["chp_kw"], label="chiller plant electricity kW")
    axes[0].set_title(f"Plant {plant}, baseline policy (fixed 7 °C supply, pressure-band cascade), week from {start}")
    axes[1].plot(df.index, df["chws_c"], label="CHW supply °C")
    axes[1].plot(df.index, df["chwr_c"], label="CHW return °C")
    axes[2].plot(df.index, df["air_flow_m3_per_min"], label="air delivered m³/min")
    axes[2].plot(df.index, df["air_kw"], label="compressor station kW")
    axes[3].plot(df.index, df["air_header_barg"], label="header pressure barg")
    for ax in axes:
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plant", default="FS")
    ap.add_argument("--start", default="2025-07-14")
    ap.add_argument("--out")
    args = ap.parse_args()
    print(plot_week(args.plant, args.start, args.out or f"docs/img/summer-week-{args.plant}.png"))


if __name__ == "__main__":
    main()
