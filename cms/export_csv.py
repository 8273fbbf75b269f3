"""CSV export of the auditor report: one UTF-8 (with BOM, for Excel) CSV per table of cms.export_model.

``--out`` ending in ``.zip`` gives one archive (entries dated 1980-01-01 so the bytes depend only on the
content); any other ``--out`` is a folder that receives ``NN_<table>.csv`` files. Each file starts with the
bilingual header row; numbers are written exactly (Decimal, plain notation).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from cms.export_model import Report, Table, text

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def table_csv(table: Table) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table.headers)
    for row in table.rows:
        w.writerow([text(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def files(report: Report) -> dict[str, bytes]:
    """File name -> bytes, in report order."""
    return {f"{i:02d}_{t.key}.csv": table_csv(t) for i, t in enumerate(report.tables, 1)}


def write_csv(report: Report, out: Path | str) -> list[Path]:
    out = Path(out)
    content = files(report)
    if out.suffix.lower() == ".zip":
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in content.items():
                info = zipfile.ZipInfo(name, ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, data)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in content.items():
        (out / name).write_bytes(data)
        written.append(out / name)
    return written
