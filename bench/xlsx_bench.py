"""xlsx writing: a 25,000 x 18 sheet, a styled normal openpyxl workbook (the old way) against the write-only
workbook the reports use now (mailposture.report.xlsx.write_table). Medians of 3 runs in one process.

    .venv/bin/python bench/xlsx_bench.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import io
import statistics
import time

import openpyxl

from mailposture.report import xlsx

t = {"key": "bodies", "title": "x", "columns": [f"c{i}" for i in range(18)], "rows": [[f"v{i}-{j}" if j % 3 else j for j in range(18)] for i in range(25000)], "total_row": False}
def old():
    wb = openpyxl.Workbook(); ws = wb.create_sheet("b")
    from openpyxl.styles import Font
    f = Font(name="Yu Gothic")
    for i, r in enumerate(t["rows"], start=4):
        for j, v in enumerate(r, start=1):
            ws.cell(row=i, column=j, value=v).font = f
    b = io.BytesIO(); wb.save(b)
def new():
    wb = openpyxl.Workbook(write_only=True)
    xlsx.write_table(wb.create_sheet("b"), t, "ja", font="Yu Gothic")
    b = io.BytesIO(); wb.save(b)
o, n = [], []
for _ in range(3):
    t0 = time.perf_counter(); old(); o.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); new(); n.append(time.perf_counter() - t0)
print(f"25,000x18 cells: styled normal workbook {statistics.median(o):.2f}s, write-only {statistics.median(n):.2f}s, ratio {statistics.median(o)/statistics.median(n):.1f}x")
