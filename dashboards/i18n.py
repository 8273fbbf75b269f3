"""Interface text in Chinese and English, and number formatting.

Every label the cockpit shows is a key in :data:`TEXT`; ``tr(key, lang)`` returns it in 'zh' or 'en'
(falling back to English, then to the key itself, so a missing entry is visible but not fatal).
Node and point names come from the database (``name_zh`` / ``name_en``), see :func:`pick_name`.
"""

from __future__ import annotations

import math

DEFAULT_LANGUAGE = "zh"

TEXT: dict[str, dict[str, str]] = {
    "product": {"zh": "Carbon Cockpit 碳管理驾驶舱", "en": "Carbon Cockpit 碳管理驾驶舱"},
    "page.energy": {"zh": "能源总览", "en": "Energy overview"},
    "page.systems": {"zh": "动力站房", "en": "Plant systems"},
    "page.carbon": {"zh": "碳排放", "en": "Carbon"},
    "page.overview": {"zh": "集团全景", "en": "Group overview"},
    "page.alarms": {"zh": "告警与数据质量", "en": "Alarms and data quality"},
    "page.reports": {"zh": "报表下载", "en": "Reports"},
    "reports.inventory": {"zh": "温室气体清单（审核导出）", "en": "Greenhouse-gas inventory (auditor export)"},
    "reports.inventory.hint": {"zh": "封面含锁定哈希；明细含每笔活动数据、因子版本与来源",
                               "en": "Cover with the lock hash; ledger with every activity datum, factor version and source"},
    "reports.download": {"zh": "下载", "en": "Download"},
    "reports.ready": {"zh": "已生成", "en": "Ready"},
    "reports.denied": {"zh": "您的角色无权下载清单（审核员、管理员可下载）",
                       "en": "Your role may not download inventories (auditors and admins may)"},
    "alarms.events": {"zh": "告警事件", "en": "Alarm events"},
    "alarms.none": {"zh": "没有告警事件", "en": "No alarm events"},
    "alarms.ack": {"zh": "确认告警", "en": "Acknowledge"},
    "alarms.note": {"zh": "备注", "en": "Note"},
    "alarms.ack.button": {"zh": "确认", "en": "Acknowledge"},
    "alarms.ack.done": {"zh": "已确认", "en": "Acknowledged"},
    "alarms.ack.denied": {"zh": "您的角色无权确认告警", "en": "Your role may not acknowledge alarms"},
    "alarms.col.rule_id": {"zh": "规则", "en": "Rule"},
    "severity.info": {"zh": "提示", "en": "info"},
    "severity.warning": {"zh": "警告", "en": "warning"},
    "severity.critical": {"zh": "严重", "en": "critical"},
    "severity.alarm": {"zh": "告警", "en": "alarm"},
    "alarms.col.subject": {"zh": "对象", "en": "Subject"},
    "alarms.col.severity": {"zh": "级别", "en": "Severity"},
    "alarms.col.started_at": {"zh": "开始", "en": "Started"},
    "alarms.col.ended_at": {"zh": "结束", "en": "Ended"},
    "alarms.col.message": {"zh": "描述", "en": "Message"},
    "alarms.col.acked_by": {"zh": "确认人", "en": "Acknowledged by"},
    "alarms.col.ack_note": {"zh": "确认备注", "en": "Note"},
    "quality.title": {"zh": "数据质量", "en": "Data quality"},
    "quality.hint": {"zh": "所选日期有问题的计量点与不平衡的计量树", "en": "Meters with issues and unbalanced meter trees on the day"},
    "quality.ok": {"zh": "当日无数据质量问题", "en": "No data-quality issue on this day"},
    "quality.completeness": {"zh": "完整率", "en": "Completeness"},
    "quality.issues": {"zh": "问题", "en": "Issues"},
    "quality.share": {"zh": "未计量占比", "en": "Unaccounted share"},
    "quality.tolerance": {"zh": "容差", "en": "Tolerance"},
    "overview.wall": {"zh": "大屏模式", "en": "Wall display"},
    "overview.electricity": {"zh": "用电量", "en": "Electricity"},
    "overview.emissions": {"zh": "范围一+二（市场法）", "en": "Scope 1 + 2 (market)"},
    "overview.intensity": {"zh": "单位产品电耗", "en": "Electricity per unit"},
    "overview.renewable": {"zh": "可再生电力占比", "en": "Renewable electricity"},
    "overview.zero_carbon": {"zh": "零碳（RE100+全额抵消）", "en": "Zero carbon (RE100 + 100 % offset)"},
    "overview.met": {"zh": "已达成", "en": "met"},
    "zc.gap.renewable_electricity": {"zh": "还差 {amount} {unit} 可再生电力（绿证、绿电交易、PPA或自建光伏）",
                                     "en": "{amount} {unit} more renewable electricity (GECs, green power, PPAs, on-site PV)"},
    "zc.gap.residual_offset": {"zh": "还需注销 {amount} {unit} 减排量（CCER等）以抵消剩余排放",
                               "en": "retire {amount} {unit} more offsets (e.g. CCER) for the residual emissions"},
    "overview.not_met": {"zh": "未达成", "en": "not met"},
    "carbon.none": {"zh": "尚无温室气体清单（ems inventory compute）",
                    "en": "No greenhouse-gas inventory yet (ems inventory compute)"},
    "carbon.year": {"zh": "年度", "en": "Year"},
    "carbon.tiles": {"zh": "范围一与范围二排放", "en": "Scope 1 and Scope 2 emissions"},
    "carbon.tiles.hint": {"zh": "范围二同时按基于位置和基于市场两种方法报告",
                          "en": "Scope 2 is always reported both location-based and market-based"},
    "carbon.by_plant": {"zh": "各工厂排放", "en": "Emissions by plant"},
    "carbon.by_month": {"zh": "逐月排放", "en": "Emissions by month"},
    "carbon.status": {"zh": "清单状态", "en": "Inventory status"},
    "carbon.scope1": {"zh": "范围一", "en": "Scope 1"},
    "carbon.scope2_lb": {"zh": "范围二（基于位置）", "en": "Scope 2 location-based"},
    "carbon.scope2_mb": {"zh": "范围二（基于市场）", "en": "Scope 2 market-based"},
    "status.draft": {"zh": "草稿", "en": "draft"},
    "status.review": {"zh": "审核中", "en": "in review"},
    "status.locked": {"zh": "已锁定", "en": "locked"},
    "systems.none": {"zh": "您可查看的范围内没有冷冻站或空压站", "en": "No chiller plant or compressed-air station in your scope"},
    "systems.choose": {"zh": "系统", "en": "System"},
    "systems.daily": {"zh": "逐日能效指标", "en": "Daily efficiency"},
    "systems.daily.hint": {"zh": "折线：能效指标（左轴）；柱：输出量（右轴）",
                           "en": "Line: efficiency indicator (left axis); bars: delivered output (right axis)"},
    "systems.monthly": {"zh": "月度指标", "en": "Monthly indicators"},
    "col.month": {"zh": "月份", "en": "Month"},
    "kpi.kw_per_rt": {"zh": "冷站能效 kW/RT", "en": "Plant kW/RT"},
    "kpi.cop": {"zh": "系统COP", "en": "Plant COP"},
    "kpi.kw_per_kw": {"zh": "kW/kW冷量", "en": "kW per kW cooling"},
    "kpi.plant_kwh": {"zh": "冷站电耗 kWh", "en": "Plant electricity kWh"},
    "kpi.cooling_kwh": {"zh": "供冷量 kWh", "en": "Cooling delivered kWh"},
    "kpi.delta_t": {"zh": "冷冻水温差 K", "en": "Chilled-water delta-T K"},
    "kpi.low_dt_share": {"zh": "小温差时段占比", "en": "Low delta-T share"},
    "kpi.coverage": {"zh": "数据覆盖率", "en": "Data coverage"},
    "kpi.specific_power": {"zh": "比功率 kW/(m³/min)", "en": "Specific power kW/(m³/min)"},
    "kpi.station_kwh": {"zh": "空压站电耗 kWh", "en": "Station electricity kWh"},
    "kpi.air_m3": {"zh": "供气量 m³", "en": "Air delivered m³"},
    "kpi.leak": {"zh": "泄漏基线 m³/min", "en": "Leak baseline m³/min"},
    "kpi.leak_share": {"zh": "泄漏占比", "en": "Leak share"},
    "kpi.purge_share": {"zh": "干燥机再生耗气占比", "en": "Dryer purge share"},
    "language.toggle": {"zh": "English", "en": "中文"},
    "logout": {"zh": "退出登录", "en": "Log out"},
    "date_range": {"zh": "日期范围", "en": "Date range"},
    "chart.by_plant": {"zh": "各工厂分介质能耗", "en": "Energy by plant and medium"},
    "chart.by_plant.hint": {"zh": "点击柱形可下钻到该工厂", "en": "Click a bar to drill into that plant"},
    "chart.breakdown": {"zh": "下级节点能耗", "en": "Energy of the nodes below"},
    "chart.breakdown.hint": {"zh": "点击柱形继续下钻", "en": "Click a bar to drill further down"},
    "chart.meter": {"zh": "计量点时间序列", "en": "Meter time series"},
    "drill.node": {"zh": "节点", "en": "Node"},
    "drill.up": {"zh": "返回上级", "en": "Up one level"},
    "drill.meters": {"zh": "本节点及以下的计量点", "en": "Meters at and below this node"},
    "meter.choose": {"zh": "选择计量点", "en": "Choose a meter"},
    "col.meter": {"zh": "计量点", "en": "Meter"},
    "col.code": {"zh": "编码", "en": "Code"},
    "col.node": {"zh": "节点", "en": "Node"},
    "col.medium": {"zh": "介质", "en": "Medium"},
    "col.total": {"zh": "合计", "en": "Total"},
    "col.mean": {"zh": "平均值", "en": "Mean"},
    "col.unit": {"zh": "单位", "en": "Unit"},
    "col.parent": {"zh": "上级表", "en": "Parent meter"},
    "axis.time": {"zh": "时间", "en": "Time"},
    "no_data": {"zh": "所选范围内没有数据", "en": "No data in the selected range"},
    "no_nodes": {"zh": "您没有可查看的节点，请联系管理员", "en": "You have no nodes to see; ask an administrator"},
    "own_meters": {"zh": "（本节点计量）", "en": "(own meters)"},
    "grain.hour": {"zh": "按小时", "en": "hourly"},
    "grain.day": {"zh": "按日", "en": "daily"},
    "grain.month": {"zh": "按月", "en": "monthly"},
    "grain.15min": {"zh": "15分钟", "en": "15-minute"},
    "role.viewer": {"zh": "查看者", "en": "viewer"},
    "role.energy_manager": {"zh": "能源经理", "en": "energy manager"},
    "role.auditor": {"zh": "审核员", "en": "auditor"},
    "role.admin": {"zh": "管理员", "en": "admin"},
    "medium.electricity": {"zh": "电", "en": "Electricity"},
    "medium.natural_gas": {"zh": "天然气", "en": "Natural gas"},
    "medium.water": {"zh": "水", "en": "Water"},
    "medium.steam": {"zh": "蒸汽", "en": "Steam"},
    "medium.heat": {"zh": "热", "en": "Heat"},
    "medium.compressed_air": {"zh": "压缩空气", "en": "Compressed air"},
    "medium.chilled_water": {"zh": "冷冻水", "en": "Chilled water"},
    "medium.diesel": {"zh": "柴油", "en": "Diesel"},
    "medium.weather": {"zh": "气象", "en": "Weather"},
}


def tr(key: str, lang: str) -> str:
    """The text for ``key`` in ``lang`` ('zh' or 'en')."""
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry.get("en") or key


def medium_label(medium: str, lang: str) -> str:
    """A medium's display name (the code itself when it has no translation)."""
    key = f"medium.{medium}"
    return tr(key, lang) if key in TEXT else medium


def pick_name(row: dict, lang: str, code_key: str = "code") -> str:
    """``name_zh`` or ``name_en`` of a node/point row in ``lang``, else the other one, else the code."""
    other = "en" if lang == "zh" else "zh"
    return row.get(f"name_{lang}") or row.get(f"name_{other}") or str(row.get(code_key, ""))


def fmt_number(value: float | None, digits: int | None = None) -> str:
    """A number with thousands separators: 1234567.8 -> '1,234,568'; small values keep decimals.

    ``digits`` fixes the decimals; by default 0 for |value| >= 100, 1 for >= 10, else 2.
    Missing values (None, NaN) show as an en dash.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if digits is None:
        size = abs(value)
        digits = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:,.{digits}f}"
