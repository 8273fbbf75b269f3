"""Tag mapping file reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from ems.errors import UserError
from ems.ingest.mapping import TagMap, read_mapping

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mapping.csv"


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / "mapping.csv"
    p.write_bytes(text.encode(encoding))
    return p


def test_example_file() -> None:
    m = read_mapping(EXAMPLE)
    assert m["冷机1电量"] == TagMap(point="QD.CHP.CH1.kWh", unit="kWh", scale=1.0, line=8)
    assert m["MCC2_EP_SEC"].scale == 80.0
    assert m["冷机1冷冻水供水温度"].unit == "℃"
    assert all(t.point for t in m.values())


def test_chinese_headers_gbk_defaults(tmp_path: Path) -> None:
    p = _write(tmp_path, "位号,点位编码,单位,倍率\n冷机1电量,QD.CH1.kWh,kWh,\n\n 空压站流量 , QD.AIR.flow ,,0.5\n", "gbk")
    m = read_mapping(p)
    assert m == {"冷机1电量": TagMap("QD.CH1.kWh", "kWh", 1.0, 2), "空压站流量": TagMap("QD.AIR.flow", None, 0.5, 4)}


def test_minimal_columns_bom_and_exact_repeat(tmp_path: Path) -> None:
    p = _write(tmp_path, "\ufeffpoint,tag\nQD.A,A\nQD.A,A\n")
    assert read_mapping(p) == {"A": TagMap("QD.A", None, 1.0, 2)}


@pytest.mark.parametrize("text,where", [
    ("tag,unit\nA,kWh\n", "line 1, field 'point'"),
    ("point,unit\nQD.A,kWh\n", "line 1, field 'tag'"),
    ("tag,point\nA,QD.A\nB,\n", "line 3, field 'point'"),
    ("tag,point\n,QD.A\n", "line 2, field 'tag'"),
    ("tag,point,scale\nA,QD.A,x2\n", "line 2, field 'scale'"),
    ("tag,point,scale\nA,QD.A,0\n", "line 2, field 'scale'"),
    ("tag,point,scale\nA,QD.A,nan\n", "line 2, field 'scale'"),
    ("tag,point\nA,QD.A\nB,QD.B\nA,QD.C\n", "line 4, field 'tag'"),
    ("", "mapping.csv: "),
])
def test_errors_name_file_line_field(tmp_path: Path, text: str, where: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(UserError) as exc:
        read_mapping(p)
    assert "mapping.csv" in str(exc.value) and where in str(exc.value)


def test_broken_encoding(tmp_path: Path) -> None:
    p = tmp_path / "mapping.csv"
    p.write_bytes(b"tag,point\nA,QD.A\nB,\xff\xff\n")
    with pytest.raises(UserError, match="line 3"):
        read_mapping(p)
