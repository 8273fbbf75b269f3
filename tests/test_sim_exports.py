"""Historian exports of the plant twin: files, headers, encodings, YAML match, faults, determinism."""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ems.assets.loader import load_asset_file
from ems.errors import UserError
from ems.sim import meters
from ems.sim.points import plant_points, render_yaml

ROOT = Path(__file__).resolve().parents[1]
YAML = ROOT / "examples" / "plant.yaml"


def _parser():
    from ems.cli.sim_cmd import register

    p = argparse.ArgumentParser(prog="ems")
    register(p.add_subparsers(dest="command"))
    return p


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    args = _parser().parse_args(["sim", "generate", "--days", "3", "--out", str(out), "--start", "2025-07-01",
                                 "--seed", "7"])
    assert args.func(args) == 0
    return out


def _read(path: Path) -> pd.DataFrame:
    enc = "gbk" if path.parent.name == "FS" else "utf-8"
    return pd.read_csv(path, encoding=enc)


def test_yaml_is_up_to_date_and_valid():
    assert YAML.read_text(encoding="utf-8") == render_yaml(), "run: python -m ems.sim.points > examples/plant.yaml"
    m = load_asset_file(YAML)
    levels = {n.code: n for n in m.nodes}
    assert levels["CCG"].level == "group"
    assert sum(n.level == "company" for n in m.nodes) >= 1
    plants = [n for n in m.nodes if n.level == "plant"]
    assert {p.code for p in plants} == {"QD", "FS"}
    assert {p.grid_region for p in plants} == {"north", "south"}
    assert all(p.timezone == "Asia/Shanghai" for p in plants)
    assert levels["FS"].ownership_share == 0.6
    per_plant = {c: [p for p in m.points if p.node_code.startswith(c + ".") or p.node_code == c] for c in ("QD", "FS")}
    assert all(40 <= len(v) <= 80 for v in per_plant.values())
    for lvl in ("workshop", "line", "equipment"):
        assert any(n.level == lvl for n in m.nodes)
    pts = {p.spec.code: p.spec for p in m.points}
    for p in pts.values():
        assert p.name.zh and p.name.en
        if p.kind == "cumulative" and p.quantity == "energy":
            assert p.max_rate_per_h
        if p.kind == "instantaneous":
            assert p.min is not None and p.max is not None
    assert sum(p.register_max is not None for p in pts.values()) >= 5
    assert sum(p.parent is not None for p in pts.values()) >= 20     # a meter tree
    assert pts["QD.CH1.kWh"].parent == "QD.CHP.kWh" and pts["QD.CHP.kWh"].parent == "QD.LOAD.kWh"
    assert pts["QD.LOAD.kWh"].formula


def test_files_layout_headers_and_encoding(export_dir):
    files = sorted(p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*.csv"))
    assert files == ["FS/FS_2025-07_15min.csv", "FS/FS_2025-07_1min.csv",
                     "QD/QD_2025-07_15min.csv", "QD/QD_2025-07_1min.csv"]
    fs_raw = (export_dir / "FS" / "FS_2025-07_15min.csv").read_bytes()
    assert fs_raw.startswith("时间,".encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        fs_raw.decode("utf-8")
    qd_raw = (export_dir / "QD" / "QD_2025-07_15min.csv").read_bytes()
    assert qd_raw.startswith(b"Timestamp,")
    df = _read(export_dir / "QD" / "QD_2025-07_15min.csv")
    ts = df.iloc[:, 0]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in ts)
    assert ts.iloc[0] == "2025-07-01 00:15:00" and ts.iloc[-1] == "2025-07-04 00:00:00"  # interval-end labels
    assert len(df) == 3 * 96
    one = _read(export_dir / "QD" / "QD_2025-07_1min.csv")
    assert list(one.columns) == ["Timestamp", "QD.AIR.P"] and len(one) == 3 * 1440
    assert one.iloc[0, 0] == "2025-07-01 00:01:00"


def test_every_column_is_a_yaml_point(export_dir):
    m = load_asset_file(YAML)
    specs = {p.spec.code: p.spec for p in m.points}
    seen = set()
    for path in export_dir.rglob("*.csv"):
        df = _read(path)
        res = path.stem.rsplit("_", 1)[1]
        for col in df.columns[1:]:
            assert col in specs, f"{path.name}: column {col} is not a point in examples/plant.yaml"
            assert not specs[col].formula, f"virtual point {col} must not be exported"
            assert specs[col].interval == res
            seen.add(col)
        # values within the point's plausible range
        for col in df.columns[1:]:
            s = df[col].dropna()
            if specs[col].min is not None:
                assert (s >= specs[col].min).all(), col
            if specs[col].max is not None:
                assert (s <= specs[col].max).all(), col
    exported = {p.spec.code for p in m.points if not p.spec.formula}
    assert seen == exported  # and every non-virtual point is exported


def test_registers_are_plausible(export_dir):
    m = load_asset_file(YAML)
    specs = {p.spec.code: p.spec for p in m.points}
    df = _read(export_dir / "QD" / "QD_2025-07_15min.csv")
    for col in df.columns[1:]:
        sp = specs[col]
        if sp.kind != "cumulative":
            continue
        s = df[col].dropna()
        d = np.diff(s.to_numpy())
        steps = np.diff(s.index.to_numpy())
        assert (d >= -1e-6).all() or col in ("QD.CH1.kWh",), col
        rate = d[d >= 0] / (steps[d >= 0] * 0.25)
        assert (rate <= sp.max_rate_per_h * 1.0001).all(), col


def test_gaps_present(export_dir):
    df = _read(export_dir / "FS" / "FS_2025-07_15min.csv")
    assert df.iloc[:, 1:].isna().all(axis=1).any()            # a SCADA outage row
    assert df.iloc[:, 1:].isna().sum().sum() > 0
    text = (export_dir / "FS" / "FS_2025-07_15min.csv").read_text(encoding="gbk")
    assert ",," in text                                        # gaps are empty cells


def test_deterministic_for_seed(tmp_path, export_dir):
    p = _parser()
    a = p.parse_args(["sim", "generate", "--days", "3", "--out", str(tmp_path / "a"), "--start", "2025-07-01",
                      "--seed", "7", "--plants", "QD"])
    a.func(a)
    b = p.parse_args(["sim", "generate", "--days", "3", "--out", str(tmp_path / "b"), "--start", "2025-07-01",
                      "--seed", "8", "--plants", "QD"])
    b.func(b)
    digest = lambda f: hashlib.sha256(f.read_bytes()).hexdigest()  # noqa: E731
    name = "QD/QD_2025-07_15min.csv"
    assert digest(tmp_path / "a" / name) == digest(export_dir / name)
    assert digest(tmp_path / "b" / name) != digest(export_dir / name)


def test_cli_user_errors(tmp_path):
    p = _parser()
    for argv in (["sim", "generate", "--days", "2", "--out", str(tmp_path), "--start", "not-a-date"],
                 ["sim", "generate", "--days", "-1", "--out", str(tmp_path)],
                 ["sim", "generate", "--days", "1", "--out", str(tmp_path), "--plants", "XX"]):
        args = p.parse_args(argv)
        with pytest.raises(UserError):
            args.func(args)


def test_faults_reset_wrap_drift_on_a_long_series():
    """The injected faults, checked on a year of constant true values (fast: no physics)."""
    n = 35040
    idx = pd.date_range("2025-01-01 00:15", periods=n, freq="15min")
    manifest: list[dict] = []
    fs = [p for p in plant_points("FS") if p.code in ("FS.AC2.kWh", "FS.CHW.F")]
    qd = [p for p in plant_points("QD") if p.code == "QD.CH1.kWh"]
    phys = pd.DataFrame({"ac2_kw": np.full(n, 80.0), "chw_flow_m3_per_h": np.full(n, 500.0),
                         "ch1_kw": np.full(n, 80.0)}, index=idx)
    r = meters.readings_15min(fs + qd, phys, np.random.default_rng(1), manifest)
    reg = r["FS.AC2.kWh"].to_numpy()
    drops = np.flatnonzero(np.diff(reg) < 0)
    assert len(drops) == 1 and reg[drops[0] + 1] < 100.0        # counter reset to ~0 (meter replaced)
    wrap = r["QD.CH1.kWh"].to_numpy()
    w = np.flatnonzero(np.diff(wrap) < 0)
    assert len(w) == 1 and wrap[w[0]] > 999000 and wrap[w[0] + 1] < 1000   # rolled over at register_max
    flow = r["FS.CHW.F"].to_numpy()
    assert flow[:2000].mean() == pytest.approx(500.0, rel=0.005)
    assert flow[-2000:].mean() == pytest.approx(540.0, rel=0.005)           # +8 %/year drift
    kinds = {f.get("fault") for f in manifest}
    assert {"counter_reset", "wrap", "drift"} <= kinds
