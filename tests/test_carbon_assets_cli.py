"""``ems carbon-assets``: projects, offset lots and retirements from YAML; over-retiring is refused."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"

ASSETS = """projects:
  - {id: PA-CHW, node: PA, name: Chilled-water reset, status: in_progress, expected_saving: 400.0,
     factor_tco2e_per_unit: 0.5}
offset_lots:
  - {id: CCER-1, standard: CCER, quantity_tco2e: 1000.0, vintage: 2024}
retirements:
  - {lot_id: CCER-1, plant: PA, year: 2025, quantity_tco2e: 600.0}
"""


def test_load_show_and_over_retirement(ems, tmp_path):
    assert ems("config", "load", DATA / "plant_small.yaml")[0] == 0
    f = tmp_path / "assets.yaml"
    f.write_text(ASSETS, encoding="utf-8")
    code, out, err = ems("carbon-assets", "load", f)
    assert code == 0, err
    assert "1 project(s), 1 offset lot(s), 1 retirement(s)" in out
    code, out, _ = ems("carbon-assets", "show", "--json")
    assert code == 0 and '"held_tco2e": 400.0' in out and '"expected_tco2e": 200.0' in out
    f.write_text(ASSETS.replace("quantity_tco2e: 600.0", "quantity_tco2e: 500.0"), encoding="utf-8")
    code, _, err = ems("carbon-assets", "load", f)      # 600 + 500 > 1000 bought
    assert code == 2 and "over-retired" in err and "Traceback" not in err
    f.write_text(ASSETS.replace("vintage: 2024", "vintage: soon"), encoding="utf-8")
    code, _, err = ems("carbon-assets", "load", f)
    assert code == 2 and "assets.yaml, line 5" in err
