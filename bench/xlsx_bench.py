"""xlsx writing: a 25,000 x 18 sheet, a styled normal openpyxl workbook (the old way) against the write-only
workbook the reports use now (mailposture.report.xlsx.write_table). Medians of --runs runs in one process,
interleaved so that machine noise hits both alike.

    .venv/bin/python bench/xlsx_bench.py [--rows 25000] [--runs 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import openpyxl
from openpyxl.styles import Font

from mailposture.report import xlsx


def table(rows: int) -> dict:
    return {"key": "bodies", "title": "x", "columns": [f"c{i}" for i in range(18)], "total_row": False,
            "rows": [[f"v{i}-{j}" if j % 3 else j for j in range(18)] for i in range(rows)]}


def old_way(t: dict) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.create_sheet("b")
    font = Font(name="Yu Gothic")
    for i, row in enumerate(t["rows"], start=4):
        for j, v in enumerate(row, start=1):
            ws.cell(row=i, column=j, value=v).font = font
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def new_way(t: dict) -> bytes:
    wb = openpyxl.Workbook(write_only=True)
    xlsx.write_table(wb.create_sheet("b"), t, "ja", font="Yu Gothic")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=25_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    t = table(args.rows)
    old, new = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        old_way(t)
        old.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        new_way(t)
        new.append(time.perf_counter() - t0)
    o, n = statistics.median(old), statistics.median(new)
    print(f"{args.rows:,} x 18 cells: styled normal workbook {o:.2f} s, write-only (the reports) {n:.2f} s; "
          f"ratio {o / n:.1f}x (medians of {args.runs})")


if __name__ == "__main__":
    main()
