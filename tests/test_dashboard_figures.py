"""Labels in both languages, number formatting, and figures that never put two units on one axis."""

from __future__ import annotations

import pandas as pd

from dashboards.figures import energy_over_time, totals_by_node
from dashboards.i18n import TEXT, fmt_number, medium_label, pick_name, tr
from dashboards.queries import ENERGY_COLUMNS


def test_every_label_has_both_languages():
    missing = [key for key, entry in TEXT.items() if not entry.get("zh") or not entry.get("en")]
    assert missing == []
    assert tr("chart.by_plant", "zh") == "各工厂分介质能耗" and tr("chart.by_plant", "en") == "Energy by plant and medium"
    assert tr("no.such.key", "zh") == "no.such.key"
    assert medium_label("natural_gas", "zh") == "天然气" and medium_label("hydrogen", "en") == "hydrogen"
    assert pick_name({"code": "PA", "name_zh": None, "name_en": "Qingdao"}, "zh") == "Qingdao"


def test_numbers_have_thousands_separators():
    assert fmt_number(1234567.8) == "1,234,568"
    assert fmt_number(12.345) == "12.3" and fmt_number(0.5) == "0.50" and fmt_number(-2500) == "-2,500"
    assert fmt_number(None) == "–" and fmt_number(float("nan")) == "–"


def _frame() -> pd.DataFrame:
    rows = [(pd.Timestamp("2025-07-01"), 1, "PA", "青岛工厂", "Qingdao", "plant", "electricity", "kWh", 960.0),
            (pd.Timestamp("2025-07-01"), 2, "PB", "佛山工厂", "Foshan", "plant", "electricity", "kWh", 40.0),
            (pd.Timestamp("2025-07-01"), 2, "PB", "佛山工厂", "Foshan", "plant", "natural_gas", "m3", 120.0)]
    return pd.DataFrame(rows, columns=ENERGY_COLUMNS)


def test_each_medium_gets_its_own_axis():
    fig = energy_over_time(_frame(), "zh", "day")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["电 (kWh)", "天然气 (m3)"]
    axis_units = {}
    for trace in fig.data:
        axis_units.setdefault(trace.yaxis, set()).add(trace.hovertemplate.rsplit(" ", 1)[-1].split("<")[0])
    assert sorted(map(sorted, axis_units.values())) == [["kWh"], ["m3"]]
    assert {tuple(t.customdata[0]) for t in fig.data} == {(1, "PA"), (2, "PB")}  # node ids for drilling


def test_totals_label_own_meters():
    fig = totals_by_node(_frame(), "en", own_id=1)
    labels = {y for trace in fig.data for y in trace.y}
    assert labels == {"Qingdao (own meters)", "Foshan"}
    assert [sum(t.x) for t in fig.data] == [1000.0, 120.0]


def test_totals_by_node_with_many_media():
    """The demo plant has nine media below it: the small charts must still fit side by side."""
    import pandas as pd

    from dashboards.figures import totals_by_node

    rows = [{"bucket": pd.Timestamp("2025-07-01"), "node_id": 1, "code": "P", "name_zh": "厂", "name_en": "P",
             "level": "plant", "medium": f"m{i}", "unit": "kWh", "total": float(i + 1)} for i in range(9)]
    fig = totals_by_node(pd.DataFrame(rows), "zh")
    assert len(fig.data) == 9
