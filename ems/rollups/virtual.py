"""Virtual meters: formulas over other points, evaluated at roll-up time, with their lineage.

A formula is arithmetic over point codes and numbers: ``+ - * /``, parentheses, operators
separated from codes by spaces (codes may contain '-' and '.'), e.g. ``QD.MAIN.kWh - QD.CH1.kWh``.
It is parsed with :mod:`ast` into a small expression tree; nothing is ever passed to ``eval``.
Additive virtual points combine the references' interval sums; instantaneous ones their means.
A bucket where any reference is missing stays missing (no invented zeros).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from ems.errors import UserError
from ems.units import conversion

_GRAINS = (("15min", "rb_15"), ("hour", "rb_hour"), ("day", "rb_day"), ("month", "rb_month"))


@dataclass(frozen=True)
class Formula:
    text: str
    tree: ast.expr
    codes: tuple[str, ...]  # referenced point codes, in order of first use


def parse_formula(text: str) -> Formula:
    """Parse a formula; UserError names the problem."""
    names: dict[str, str] = {}
    out = []
    for token in re.findall(r"\(|\)|[^\s()]+", text):
        if token in {"+", "-", "*", "/", "(", ")"}:
            out.append(token)
            continue
        sign = ""
        if token.startswith("-") and len(token) > 1:  # unary minus written against the code
            sign, token = "-", token[1:]
        try:
            float(token)
            out.append(sign + token)
        except ValueError:
            out.append(sign + names.setdefault(token, f"_v{len(names)}"))
    py = " ".join(out)
    try:
        tree = ast.parse(py, mode="eval").body
    except SyntaxError as exc:
        raise UserError(f"formula '{text}' is not arithmetic over point codes (put spaces around operators)") from exc
    for node in ast.walk(tree):
        if not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Add, ast.Sub, ast.Mult,
                                 ast.Div, ast.USub, ast.UAdd, ast.Load)):
            raise UserError(f"formula '{text}' uses '{type(node).__name__}'; only + - * / and parentheses")
    return Formula(text, tree, tuple(names))


def evaluate(formula: Formula, values: dict[str, pd.Series]) -> pd.Series:
    """Evaluate over aligned series keyed by point code."""
    name_to_code = {f"_v{i}": c for i, c in enumerate(formula.codes)}

    def ev(node: ast.expr):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[name_to_code[node.id]]
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand) if isinstance(node.op, ast.USub) else ev(node.operand)
        left, right = ev(node.left), ev(node.right)
        op = type(node.op)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        with np.errstate(divide="ignore", invalid="ignore"):
            out = left / right
        return out.replace([np.inf, -np.inf], np.nan) if isinstance(out, pd.Series) else out

    return ev(formula.tree)


def linear_terms(formula: Formula) -> dict[str, float] | None:
    """The formula as a sum of coefficient x point (``{'A': 1.0, 'B': -1.0}`` for ``A - B``), or None
    when it is not linear in its points (a product or a ratio of points, a constant offset)."""
    name_to_code = {f"_v{i}": c for i, c in enumerate(formula.codes)}

    def ev(node: ast.expr) -> tuple[dict[str, float], float] | None:   # (terms, constant)
        if isinstance(node, ast.Constant):
            return {}, float(node.value)
        if isinstance(node, ast.Name):
            return {name_to_code[node.id]: 1.0}, 0.0
        if isinstance(node, ast.UnaryOp):
            inner = ev(node.operand)
            if inner is None or not isinstance(node.op, ast.USub):
                return inner
            return {k: -v for k, v in inner[0].items()}, -inner[1]
        left, right = ev(node.left), ev(node.right)
        if left is None or right is None:
            return None
        op = type(node.op)
        if op in (ast.Add, ast.Sub):
            sign = 1.0 if op is ast.Add else -1.0
            terms = dict(left[0])
            for k, v in right[0].items():
                terms[k] = terms.get(k, 0.0) + sign * v
            return terms, left[1] + sign * right[1]
        if op is ast.Mult and (not left[0] or not right[0]):
            (terms, _), factor = (right, left[1]) if not left[0] else (left, right[1])
            return {k: v * factor for k, v in terms.items()}, left[1] * right[1]
        if op is ast.Div and not right[0] and right[1] != 0:
            return {k: v / right[1] for k, v in left[0].items()}, left[1] / right[1]
        return None

    result = ev(formula.tree)
    if result is None or result[1] != 0.0:
        return None
    return {k: v for k, v in result[0].items() if v != 0.0}


def lineage(conn: psycopg.Connection, code: str, depth: int = 0) -> list[str]:
    """The formula tree of a point, one line per point, indented: what a virtual meter is made of."""
    row = conn.execute("SELECT code, formula, unit, kind FROM point WHERE code = %s", (code,)).fetchone()
    if row is None:
        raise UserError(f"no point with code '{code}'")
    code, formula, unit, kind = row
    lines = [f"{'  ' * depth}{code} [{unit}, {kind}]" + (f" = {formula}" if formula else " (metered)")]
    if formula and depth < 10:
        for ref in parse_formula(formula).codes:
            lines += lineage(conn, ref, depth + 1)
    return lines


def refresh_virtual(conn: psycopg.Connection) -> int:
    """Recompute virtual points' roll-ups for buckets touched in this refresh (the rb_* temp tables)."""
    virtual = conn.execute("SELECT point_id, code, formula, unit, kind FROM point WHERE formula IS NOT NULL "
                           "ORDER BY point_id").fetchall()
    if not virtual:
        return 0
    points = {c: (pid, unit, kind) for pid, c, unit, kind in conn.execute("SELECT point_id, code, unit, kind FROM point")}
    written = 0
    for _ in range(3):  # virtual over virtual: a few passes settle chains up to this depth
        for pid, _code, text, unit, kind in virtual:
            formula = parse_formula(text)
            refs = [points[c] for c in formula.codes if c in points]
            if len(refs) != len(formula.codes):
                continue
            ref_ids = [r[0] for r in refs]
            for grain, table in _GRAINS:
                written += _virtual_grain(conn, pid, unit, kind, formula, refs, ref_ids, grain, table)
    return written


def _virtual_grain(conn, pid, unit, kind, formula, refs, ref_ids, grain, table) -> int:
    buckets = [r[0] for r in conn.execute(f"SELECT DISTINCT bucket FROM {table} WHERE point_id = ANY(%s)",
                                          (ref_ids,))]
    if not buckets:
        return 0
    col = "sum_delta" if kind != "instantaneous" else "mean"
    rows = conn.execute(
        f"""SELECT point_id, bucket, {col}, flags FROM rollup_point
            WHERE grain = %s AND point_id = ANY(%s) AND bucket = ANY(%s)""", (grain, ref_ids, buckets)).fetchall()
    frame = pd.DataFrame(rows, columns=["point_id", "bucket", "v", "flags"])
    wide = frame.pivot_table(index="bucket", columns="point_id", values="v", aggfunc="first")
    flags = frame.groupby("bucket")["flags"].agg(lambda f: int(np.bitwise_or.reduce(f.to_numpy())))
    values = {}
    for code, (ref_id, ref_unit, _) in zip(formula.codes, refs):
        scale, offset = conversion(ref_unit, unit)
        series = wide[ref_id] if ref_id in wide else pd.Series(np.nan, index=wide.index)
        values[code] = series.astype(float) * scale + offset
    result = evaluate(formula, values).astype(float)   # buckets where some reference has a roll-up row
    conn.execute("DELETE FROM rollup_point WHERE grain = %s AND point_id = %s AND bucket = ANY(%s)",
                 (grain, pid, buckets))
    out = [(grain, pid, b, None if pd.isna(v) else float(v), int(flags.get(b, 0))) for b, v in result.items()]
    with conn.cursor() as cur:
        if kind != "instantaneous":
            cur.executemany("INSERT INTO rollup_point (grain, point_id, bucket, sum_delta, n_delta, flags) "
                            "VALUES (%s, %s, %s, %s, CASE WHEN %s::float8 IS NULL THEN 0 ELSE 1 END, %s)",
                            [(g, p, b, v, v, f) for g, p, b, v, f in out])
        else:
            cur.executemany("INSERT INTO rollup_point (grain, point_id, bucket, mean, n, flags) "
                            "VALUES (%s, %s, %s, %s, CASE WHEN %s::float8 IS NULL THEN 0 ELSE 1 END, %s)",
                            [(g, p, b, v, v, f) for g, p, b, v, f in out])
    return len(out)
