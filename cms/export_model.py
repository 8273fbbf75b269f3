"""The auditor report as plain tables: one model, three writers (cms.export_xlsx, export_csv, export_pdf).

``build_report(conn, node, start, end)`` reads a stored inventory (cms.inventory_read) plus the offset
ledger (sql/007_targets.sql) and returns a :class:`Report`: a list of :class:`Table` with bilingual
headers (中文 / English) and cells that are ``str``, ``int``, ``Decimal`` or ``None``. Emission numbers
stay the engine's Decimals: kgCO2e exactly as on the ledger lines (1 g), tCO2e = kg / 1000 exactly; every
total is the sum of the lines and is checked against the engine's stored totals before anything is
written. The generation timestamp is the only value that depends on when the report is made; every other
timestamp comes from the database and is written in UTC, so a locked inventory's export is reproducible.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from cms.inventory_read import read_inventory
from cms.inventory_store import restatement_diff
from cms.numbers import ZERO, dsum, kg_to_t

SCOPES = (("scope1", "范围一", "Scope 1"), ("scope2_location", "范围二（基于位置）", "Scope 2 location-based"),
          ("scope2_market", "范围二（基于市场）", "Scope 2 market-based"))
APPROACH_ZH = {"operational_control": "运营控制法", "financial_control": "财务控制法", "equity_share": "股权比例法"}
STATUS_ZH = {"draft": "草稿", "review": "内部审核", "locked": "已锁定"}
SOURCE_ZH = {"rollup": "计量（能源汇总）/ metered (roll-ups)", "csv": "导入 / CSV import",
             "manual": "手工录入 / manual entry"}


@dataclass
class Table:
    key: str                                   # file stem (CSV) and anchor; unique
    sheet: str                                 # workbook sheet it goes on (tables of a sheet are stacked)
    title_zh: str
    title_en: str
    columns: list[tuple[str, str]]             # (中文, English)
    rows: list[list] = field(default_factory=list)
    note: str = ""

    @property
    def title(self) -> str:
        return f"{self.title_zh} / {self.title_en}"

    @property
    def headers(self) -> list[str]:
        return [f"{zh} / {en}" for zh, en in self.columns]


@dataclass
class Report:
    header: dict
    tables: list[Table]
    totals_kg: dict[str, Decimal]
    generated_at: str

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    @property
    def sheets(self) -> list[str]:
        return list(dict.fromkeys(t.sheet for t in self.tables))


def utc(value) -> str | None:
    """A timestamp as ISO 8601 in UTC to the second (dates and strings unchanged)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds") + " UTC"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def t6(kg: Decimal) -> Decimal:
    """Exact tCO2e of a kg figure, with the 6 decimals a 1 g line quantum gives."""
    return kg_to_t(kg).quantize(Decimal("0.000001"))


def build_report(conn: psycopg.Connection, node: str, start: dt.date, end: dt.date, *,
                 generated_at: str | None = None, revision: int | None = None) -> Report:
    doc = read_inventory(conn, node, start, end, revision)
    h, lines = doc["header"], doc["lines"]
    gen = generated_at or utc(dt.datetime.now(dt.UTC))
    totals = {k: dsum(Decimal(x["co2e_kg"]) for x in lines if _key(x) == k) for k, _, _ in SCOPES}
    stored = doc["summary"].get("totals_kgco2e", {})
    for k, value in totals.items():
        if k in stored and Decimal(stored[k]) != value:
            raise ValueError(f"inventory {h['inventory_id']}: {k} lines sum to {value} kg but the engine stored "
                             f"{stored[k]} kg")
    tables = [_cover(h, doc["summary"], gen), _boundary(doc, lines)]
    tables += _summary(lines, totals, doc["summary"])
    tables += [_ledger(lines, doc["factors"]), _factors(doc["factors"]), _instruments(doc["instruments"])]
    tables += _offsets(conn, doc["boundary"], h, totals)
    tables += _quality(lines, doc["boundary"], h, totals)
    tables += _changes(conn, doc, h)
    return Report(h, tables, totals, gen)


def _key(rec: dict) -> str | None:
    if rec["scope"] == 1:
        return "scope1"
    if rec["scope"] == 2:
        return f"scope2_{rec['scope2_method']}"
    return None


def _cover(h: dict, summary: dict, generated_at: str) -> Table:
    name = " / ".join(x for x in (h.get("name_zh"), h.get("name_en")) if x)
    rows = [
        ["组织 / Organisation", f"{h['node']} {name}".strip()],
        ["边界方法 / Boundary approach", f"{APPROACH_ZH.get(h['boundary'], '')} / {h['boundary']}"],
        ["报告期 / Reporting period", f"{h['period_start']} – {h['period_end']} (不含 / exclusive)"],
        ["年度 / Year", h["year"]],
        ["标准 / Standards", "; ".join(h["standards"])],
        ["GWP 值集 / GWP set", f"IPCC {h['gwp_set']} (100-year)"],
        ["燃料因子体系 / Fuel factor family", h["fuel_factors"]],
        ["因子数据年份上限 / Factor data-year cap", summary.get("factor_year_cap")],
        ["状态 / Status", f"{STATUS_ZH.get(h['status'], '')} / {h['status']}"],
        ["修订版 / Revision", h["revision"]],
        ["重述的清单 / Restates inventory", h["restates"]],
        ["编制 / Prepared by", f"{h['created_by']} ({utc(h['created_at'])})"],
        ["计算时间 / Computed at", utc(h["computed_at"])],
        ["审核 / Reviewed by", f"{h['reviewed_by']} ({utc(h['reviewed_at'])})" if h["reviewed_by"] else None],
        ["锁定 / Locked by", f"{h['locked_by']} ({utc(h['locked_at'])})" if h["locked_by"] else None],
        ["内容哈希 (SHA-256) / Content hash (SHA-256)", h["content_hash"]],
        ["哈希校验 / Hash verified", {True: "是 / yes", False: "否：内容已被改动 / NO: content changed",
                                    None: "未锁定 / not locked"}[h["hash_verified"]]],
        ["范围二 / Scope 2", "基于位置与基于市场两种结果均报告，不相加 / location- and market-based both "
                           "reported, never summed"],
        ["抵销 / Offsets", "抵销量单独列示，不从范围一、二中扣减 / shown separately, never netted in Scope 1 or 2"],
        ["舍入规则 / Rounding rule", summary.get("rounding")],
        ["数量单位 / Units", "kgCO2e exact per ledger line (1 g); tCO2e = kgCO2e / 1000"],
    ]
    rows += [[f"说明 {i} / Note {i}", n] for i, n in enumerate(summary.get("notes", []), 1)]
    rows.append(["生成时间 / Generated at", generated_at])
    return Table("cover", "封面 Cover", "封面", "Cover", [("项目", "Item"), ("内容", "Value")], rows)


def _boundary(doc: dict, lines: list[dict]) -> Table:
    applied = {x["entity"]: Decimal(x["share"]) for x in lines}
    rows = [[b["code"], b["level"], b["name_en"], b["ownership_share"], b["operational_control"],
             b["financial_control"], b["grid_region"], applied.get(b["code"])] for b in doc["boundary"]]
    return Table("boundary", "封面 Cover", "组织边界", "Organisational boundary",
                 [("节点", "Node"), ("层级", "Level"), ("名称", "Name"), ("持股比例", "Ownership share"),
                  ("运营控制", "Operational control"), ("财务控制", "Financial control"), ("电网区域", "Grid region"),
                  ("合并份额", "Consolidated share")], rows)


def _summary(lines: list[dict], totals: dict, summary: dict) -> list[Table]:
    tot = Table("summary_totals", "汇总 Summary", "排放总量", "Totals",
                [("范围", "Scope"), ("排放量 (tCO2e)", "Emissions (tCO2e)"), ("排放量 (kgCO2e)", "Emissions (kgCO2e)")],
                [[f"{zh} / {en}", t6(totals[k]), totals[k]] for k, zh, en in SCOPES],
                note="Scope 2 location-based and market-based are alternatives: never add them")
    gas: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    plant: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: ZERO))
    cat: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
    memo: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for x in lines:
        k, kg = _key(x), Decimal(x["co2e_kg"])
        if k is None:
            memo[x["gas"]][0] += Decimal(x["gas_mass_kg"])
            memo[x["gas"]][1] += kg
            continue
        gas[(k, x["gas_group"])][0] += Decimal(x["gas_mass_kg"])
        gas[(k, x["gas_group"])][1] += kg
        plant[x["entity"]][k] += kg
        plant[x["entity"]]["share"] = Decimal(x["share"])
        cat[(k, x["category"])] += kg
    order = {k: i for i, (k, _, _) in enumerate(SCOPES)}
    label = {k: f"{zh} / {en}" for k, zh, en in SCOPES}
    by_gas = Table("summary_by_gas", "汇总 Summary", "按气体", "By gas",
                   [("范围", "Scope"), ("气体", "Gas"), ("气体质量 (t)", "Gas mass (t)"),
                    ("排放量 (tCO2e)", "Emissions (tCO2e)")],
                   [[label[k], g, t6(m), t6(e)] for (k, g), (m, e) in sorted(gas.items(), key=lambda i: (order[i[0][0]], i[0][1]))])
    by_plant = Table("summary_by_plant", "汇总 Summary", "按工厂", "By plant",
                     [("工厂", "Plant"), ("合并份额", "Share")] + [(f"{zh} (tCO2e)", f"{en} (tCO2e)") for _, zh, en in SCOPES],
                     [[p, v["share"], *(t6(v[k]) for k, _, _ in SCOPES)] for p, v in sorted(plant.items())])
    by_cat = Table("summary_by_category", "汇总 Summary", "按排放源类别", "By source category",
                   [("范围", "Scope"), ("类别", "Category"), ("排放量 (tCO2e)", "Emissions (tCO2e)")],
                   [[label[k], c, t6(v)] for (k, c), v in sorted(cat.items(), key=lambda i: (order[i[0][0]], i[0][1]))])
    memo_t = Table("summary_memo", "汇总 Summary", "范围外备忘项（蒙特利尔议定书气体）",
                   "Memo items outside the scopes (Montreal Protocol gases)",
                   [("气体", "Gas"), ("气体质量 (t)", "Gas mass (t)"), ("排放量 (tCO2e)", "Emissions (tCO2e)")],
                   [[g, t6(m), t6(e)] for g, (m, e) in sorted(memo.items())],
                   note="reported separately, not in Scope 1")
    return [tot, by_gas, by_plant, by_cat, memo_t]


LEDGER_COLUMNS = [
    ("行号", "Line"), ("核算主体", "Entity (plant)"), ("节点", "Node"), ("起始", "Period start"),
    ("截止(不含)", "Period end (excl.)"), ("范围", "Scope"), ("范围二方法", "Scope 2 method"), ("类别", "Category"),
    ("活动", "Activity"), ("活动数据", "Activity quantity"), ("单位", "Unit"), ("换算量", "Converted quantity"),
    ("换算单位", "Converted unit"), ("证据", "Evidence"), ("数据来源", "Data source"), ("录入人", "Entered by"),
    ("批次", "Batch"), ("文件", "File"), ("文件 SHA-256", "File SHA-256"), ("方法", "Method"),
    ("因子编号", "Factor ID"), ("因子版本", "Factor version"), ("因子值", "Factor value"), ("因子单位", "Factor unit"),
    ("因子来源", "Factor source"), ("其他参数与 GWP", "Other parameters and GWP"), ("气体", "Gas"),
    ("气体质量 (kg)", "Gas mass (kg)"), ("GWP", "GWP"), ("GWP 值集", "GWP set"), ("边界份额", "Boundary share"),
    ("100% 排放 (kgCO2e)", "Gross at 100 % (kgCO2e)"), ("排放量 (kgCO2e)", "Emissions (kgCO2e)"),
    ("排放量 (tCO2e)", "Emissions (tCO2e)"), ("合同工具", "Instrument"), ("数据质量标记", "Data-quality flags"),
]


def _ledger(lines: list[dict], factors: list[dict]) -> Table:
    fx = {(f["factor_id"], f["version"]): f for f in factors}
    rows = []
    for x in lines:
        f = fx.get((x["factor_id"], x["factor_version"]), {})
        refs = "; ".join(f"{r['id']} v{r['version']}={r.get('value', '')}" for r in x.get("factor_refs", [])
                         if (r["id"], r["version"]) != (x["factor_id"], x["factor_version"]))
        kg = Decimal(x["co2e_kg"])
        rows.append([x["line_no"], x["entity"], x["node"], x["period_start"], x["period_end"], x["scope"],
                     x["scope2_method"], x["category"], x["activity"], Decimal(x["activity_quantity"]),
                     x["activity_unit"], Decimal(x["converted_quantity"]) if x.get("converted_quantity") else None,
                     x.get("converted_unit"), x["evidence"], x["source"], x["entered_by"], x["batch_id"],
                     x["batch_file"], x["batch_sha256"], x["method"], x["factor_id"], x["factor_version"],
                     f.get("value"), f.get("unit"), f.get("source"), refs, x["gas"], Decimal(x["gas_mass_kg"]),
                     Decimal(x["gwp"]), x["gwp_set"], Decimal(x["share"]), Decimal(x["gross_co2e_kg"]), kg, t6(kg),
                     x["instrument"], " ".join(x.get("flags", []))])
    return Table("ledger", "明细台账 Ledger", "明细台账", "Line-level ledger", LEDGER_COLUMNS, rows)


def _factors(factors: list[dict]) -> Table:
    cols = [("因子编号", "Factor ID"), ("版本", "Version"), ("类型", "Kind"), ("活动", "Activity"), ("区域", "Region"),
            ("气体", "Gas"), ("值", "Value"), ("单位", "Unit"), ("系列", "Series"), ("GWP 值集", "GWP set"),
            ("数据年份", "Data year"), ("来源", "Source"), ("发布文件", "Publication"), ("可靠性", "Firmness"),
            ("被取代", "Superseded by")]
    rows = [[f["factor_id"], f["version"], f["kind"], f["activity"], f["region"], f["gas"], f["value"], f["unit"],
             f["series"], f["gwp_set"], f["data_year"], f["source"], f["publication"], f["firmness"],
             f"{f['superseded_by_id']} v{f['superseded_by_version']}" if f["superseded_by_id"] else None]
            for f in factors]
    return Table("factors", "排放因子 Factors", "使用的排放因子及参数", "Factor versions used", cols, rows)


def _instruments(items: list[dict]) -> Table:
    cols = [("编号", "Code"), ("类型", "Kind"), ("工厂", "Plant"), ("总量 (MWh)", "Volume (MWh)"), ("年份", "Vintage"),
            ("适用期起", "Period start"), ("适用期止", "Period end"), ("登记机构", "Registry"), ("序列号", "Serials"),
            ("注销日期", "Retired on"), ("满足质量准则", "Quality criteria met"), ("属性已售", "Attributes sold"),
            ("证据", "Evidence"), ("声明 (MWh)", "Claimed (MWh)"), ("本清单使用 (MWh)", "Applied here (MWh)")]
    rows = [[i["code"], i["kind"], i["plant"], i["mwh"], i["vintage"], i["period_start"], i["period_end"], i["registry"],
             i["serials"], i["retired_on"], i["qc_met"], i["attributes_sold"], i["evidence"], i["claimed_mwh"],
             i["applied_mwh"]] for i in items]
    return Table("instruments", "合同工具 Instruments", "合同工具登记（绿证、绿电、PPA）",
                 "Contractual instrument register (market-based Scope 2)", cols, rows)


def _offsets(conn, boundary: list[dict], h: dict, totals: dict) -> list[Table]:
    plants = sorted(b["code"] for b in boundary if b["level"] == "plant")
    year = h["year"] or h["period_start"].year
    ret = conn.execute(
        """SELECT r.retirement_id, r.lot_id, l.standard, l.vintage, l.project, l.registry, coalesce(r.serial, l.serial),
                  r.plant_code, r.year, r.quantity_tco2e, r.retired_on, r.note
           FROM offset_retirement r JOIN offset_lot l USING (lot_id)
           WHERE r.plant_code = ANY(%s) AND r.year = %s ORDER BY r.retirement_id""", (plants, year)).fetchall()
    retired = dsum(r[9] for r in ret)
    cols = [("编号", "Retirement"), ("批次", "Lot"), ("标准", "Standard"), ("年份", "Vintage"), ("项目", "Project"),
            ("登记机构", "Registry"), ("序列号", "Serials"), ("工厂", "Plant"), ("年度", "Year"),
            ("注销量 (tCO2e)", "Retired (tCO2e)"), ("注销日期", "Retired on"), ("备注", "Note")]
    t1 = Table("offsets_retired", "抵销 Offsets", "已注销的抵销量（单独列示，不扣减）",
               "Offsets retired against this boundary and year (shown separately, never netted)", cols,
               [list(r) for r in ret],
               note="Scope 1 and Scope 2 totals are gross; offsets are a separate ledger")
    lots = sorted({r[1] for r in ret})
    held = conn.execute(
        """SELECT l.lot_id, l.standard, l.vintage, l.quantity_tco2e,
                  coalesce((SELECT sum(quantity_tco2e) FROM offset_retirement r WHERE r.lot_id = l.lot_id), 0)
           FROM offset_lot l WHERE l.lot_id = ANY(%s) ORDER BY l.lot_id""", (lots,)).fetchall()
    t2 = Table("offsets_lots", "抵销 Offsets", "相关批次持有情况", "Holdings of the lots involved",
               [("批次", "Lot"), ("标准", "Standard"), ("年份", "Vintage"), ("购入 (tCO2e)", "Bought (tCO2e)"),
                ("已注销 (tCO2e)", "Retired (tCO2e)"), ("持有 (tCO2e)", "Held (tCO2e)")],
               [[lot, std, vin, q, r, q - r] for lot, std, vin, q, r in held])
    memo = [[f"{zh} / {en}", t6(totals[k]), retired] for k, zh, en in SCOPES]
    t3 = Table("offsets_memo", "抵销 Offsets", "总排放与抵销对照（备忘，不相减）",
               "Gross emissions beside offsets retired (memo, not subtracted)",
               [("范围", "Scope"), ("总排放 (tCO2e)", "Gross emissions (tCO2e)"),
                ("已注销抵销量 (tCO2e)", "Offsets retired (tCO2e)")], memo)
    return [t1, t2, t3]


def months(start: dt.date, end: dt.date) -> list[str]:
    out, y, m = [], start.year, start.month
    while dt.date(y, m, 1) < end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _quality(lines: list[dict], boundary: list[dict], h: dict, totals: dict) -> list[Table]:
    period = months(h["period_start"], h["period_end"])
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for x in lines:
        medium = x["activity"].split(":")[0]
        s, e = dt.date.fromisoformat(x["period_start"]), dt.date.fromisoformat(x["period_end"])
        seen[(x["entity"], medium)].update(m for m in months(s, e) if m in period)
        sources[(x["entity"], medium)].add(x["source"])
    plants = sorted({b["code"] for b in boundary if b["level"] == "plant"} | {e for e, _ in seen})
    rows = []
    for p in plants:       # every medium the plant reports, and grid electricity always (a plant without it is news)
        for m in sorted({m for e, m in seen if e == p} | {"electricity_grid"}):
            got = seen.get((p, m), set())
            rows.append([p, m, len(got), len(period), " ".join(x for x in period if x not in got),
                         " ".join(sorted(sources.get((p, m), ())))])
    comp = Table("quality_completeness", "数据质量 Data quality", "完整性：各工厂各介质有活动数据的月份",
                 "Completeness: months with activity data per plant and medium",
                 [("工厂", "Plant"), ("介质/活动", "Medium / activity"), ("有数据月数", "Months with data"),
                  ("报告期月数", "Months in period"), ("缺失月份", "Missing months"), ("数据来源", "Data sources")], rows)
    by_src: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for x in lines:
        if _key(x):
            by_src[(_key(x), x["source"])] += Decimal(x["co2e_kg"])
    label = {k: f"{zh} / {en}" for k, zh, en in SCOPES}
    src_rows = [[label[k], SOURCE_ZH.get(s, s), t6(v), (v / totals[k] * 100).quantize(Decimal("0.01")) if totals[k] else None]
                for (k, s), v in sorted(by_src.items(), key=lambda i: ([k for k, _, _ in SCOPES].index(i[0][0]), i[0][1]))]
    src = Table("quality_sources", "数据质量 Data quality", "按数据来源：计量 / 估算与手工录入占比",
                "By data source: metered vs estimated / manual share",
                [("范围", "Scope"), ("来源", "Source"), ("排放量 (tCO2e)", "Emissions (tCO2e)"), ("占比 %", "Share %")],
                src_rows)
    flags: dict[str, list] = defaultdict(lambda: [0, ZERO])
    for x in lines:
        for f in x.get("flags", []):
            flags[f][0] += 1
            flags[f][1] += Decimal(x["co2e_kg"])
    fl = Table("quality_flags", "数据质量 Data quality", "数据质量标记", "Data-quality flags",
               [("标记", "Flag"), ("行数", "Lines"), ("排放量 (tCO2e)", "Emissions (tCO2e)")],
               [[f, n, t6(v)] for f, (n, v) in sorted(flags.items())],
               note="tCO2e per flag sums every line carrying it (both Scope 2 methods included)")
    return [comp, src, fl]


def _changes(conn, doc: dict, h: dict) -> list[Table]:
    log = doc["change_log"]
    rev = Table("changes_revisions", "变更记录 Change log", "清单修订版", "Inventory revisions",
                [("清单", "Inventory"), ("修订版", "Revision"), ("状态", "Status"), ("重述", "Restates"),
                 ("锁定时间", "Locked at"), ("内容哈希", "Content hash")],
                [[r["inventory_id"], r["revision"], r["status"], r["restates"], utc(r["locked_at"]), r["content_hash"]]
                 for r in log["revisions"]])
    fa = Table("changes_factors", "变更记录 Change log", "所用因子的审计记录", "Audit log of the factors used",
               [("因子编号", "Factor ID"), ("版本", "Version"), ("操作", "Action"), ("操作人", "Changed by"),
                ("原因", "Reason"), ("时间", "Changed at")],
               [[r["factor_id"], r["version"], r["action"], r["changed_by"], r["reason"], utc(r["changed_at"])]
                for r in log["factor_audit"]])
    ba = Table("changes_batches", "变更记录 Change log", "活动数据批次", "Activity data batches",
               [("批次", "Batch"), ("来源", "Source"), ("文件", "File"), ("文件 SHA-256", "File SHA-256"),
                ("录入人", "Entered by"), ("时间", "Created at")],
               [[r["batch_id"], r["source"], r["file"], r["file_sha256"], r["entered_by"], utc(r["created_at"])]
                for r in log["activity_batches"]])
    diff_rows = []
    if h["restates"]:
        for d in restatement_diff(conn, h["restates"], h["inventory_id"]):
            diff_rows.append([d["datum_id"], d["scope"], d["scope2_method"], d["gas"], d["instrument"],
                              Decimal(d["before_kgco2e"]), Decimal(d["after_kgco2e"]), Decimal(d["change_kgco2e"])])
    diff = Table("changes_restatement", "变更记录 Change log", "重述差异（相对被重述的清单）",
                 "Restatement diff against the restated inventory",
                 [("活动数据", "Datum"), ("范围", "Scope"), ("范围二方法", "Scope 2 method"), ("气体", "Gas"),
                  ("合同工具", "Instrument"), ("重述前 (kgCO2e)", "Before (kgCO2e)"),
                  ("重述后 (kgCO2e)", "After (kgCO2e)"), ("变化 (kgCO2e)", "Change (kgCO2e)")], diff_rows)
    base = doc["summary"].get("base_year_recalculation")
    base_rows = []
    for k, v in (base or {}).items():
        if isinstance(v, list):
            base_rows += [[f"{k} {i}", "; ".join(f"{a}={b}" for a, b in item.items())] for i, item in enumerate(v, 1)]
        else:
            base_rows.append([k, text(v)])
    bt = Table("changes_base_year", "变更记录 Change log", "基准年重新计算", "Base-year recalculation",
               [("项目", "Item"), ("内容", "Value")], base_rows)
    return [rev, fa, ba, diff, bt]


def text(value) -> str:
    """A cell as text: Decimals in plain notation (never exponent), booleans as yes/no, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
