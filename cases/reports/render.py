"""Render a `ReportDoc` as XLSX (openpyxl, native Excel charts), PDF (fpdf2, drawn charts, Noto CJK
font from Debian's fonts-noto-cjk found at run time) or JSON (the typed report data)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import math
import os
import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from cases.errors import ReportRenderError
from cases.reports.document import ANALYSIS_TITLE, Cell, Chart, ReportDoc, Table

FONT_ENV = "HOTLINE_CJK_FONT"
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/noto", "/usr/share/fonts")
FONT_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf")
PDF_ROW_LIMIT = 200
PALETTE = ((52, 101, 164), (204, 0, 0), (78, 154, 6), (245, 121, 0), (117, 80, 123), (193, 125, 17))


# ---------------------------------------------------------------- JSON


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(data: Any, analysis: Any = None) -> bytes:
    """The report data; with the supervisor's written analysis (text, written_by, written_at) under
    "analysis" when one is given, as the XLSX and PDF carry it."""
    plain = _plain(data)
    if analysis is not None and isinstance(plain, dict):
        plain["analysis"] = _plain(analysis)
    return json.dumps(plain, ensure_ascii=False, indent=2).encode("utf-8")


# ---------------------------------------------------------------- XLSX


def _xl(value: Cell) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def to_xlsx(doc: ReportDoc) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "概要"
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DCE6F1")
    ws["A1"] = doc.title
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = f"期间 Period: {doc.period}"
    for i, (label, value) in enumerate(doc.kpis, start=4):
        ws.cell(i, 1, label).font = bold
        ws.cell(i, 2, _xl(value))
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 18
    if doc.analysis:  # below the KPIs, each paragraph a row of its own, wrapped over columns A-H
        first = len(doc.kpis) + 5
        ws.cell(first, 1, ANALYSIS_TITLE).font = Font(bold=True, size=12)
        ws.cell(first + 1, 1, doc.analysis_by).font = Font(italic=True, color="666666")
        for k, para in enumerate(doc.analysis.splitlines() or [""], start=first + 2):
            ws.cell(k, 1, para).alignment = Alignment(wrap_text=True, vertical="top")
            ws.merge_cells(start_row=k, start_column=1, end_row=k, end_column=8)
            ws.row_dimensions[k].height = 15 * max(1, math.ceil(len(para) / 60))
    used: set[str] = {"概要"}

    def sheet_name(title: str) -> str:
        base = re.sub(r"[\\/*?:\[\]（）()]", "", title.split(" ")[0])[:28] or "表"
        name, n = base, 2
        while name in used:
            name, n = f"{base}{n}", n + 1
        used.add(name)
        return name

    for block in doc.blocks:
        sh = wb.create_sheet(sheet_name(block.title))
        sh.cell(1, 1, block.title).font = Font(bold=True, size=12)
        if isinstance(block, Table):
            for c, h in enumerate(block.headers, 1):
                cell = sh.cell(3, c, h)
                cell.font, cell.fill = bold, head_fill
                cell.alignment = Alignment(horizontal="center")
            for r, row in enumerate(block.rows, 4):
                for c, v in enumerate(row, 1):
                    cell = sh.cell(r, c, _xl(v))
                    if isinstance(v, Decimal):
                        cell.number_format = "#,##0.00" if v.as_tuple().exponent == -2 else "0.0"
            for c, h in enumerate(block.headers, 1):
                longest = max([len(str(h))] + [len(str(row[c - 1])) for row in block.rows[:200]])
                sh.column_dimensions[get_column_letter(c)].width = min(60, max(10, longest * 1.8))
            sh.freeze_panes = "A4"
        else:
            sh.cell(3, 1, "")
            for c, (name, _) in enumerate(block.series, 2):
                sh.cell(3, c, name).font = bold
            for r, cat in enumerate(block.categories, 4):
                sh.cell(r, 1, cat)
                for c, (_, values) in enumerate(block.series, 2):
                    sh.cell(r, c, values[r - 4])
            last = 3 + len(block.categories)
            chart: BarChart | LineChart = LineChart() if block.kind == "line" else BarChart()
            chart.title = block.title
            chart.height, chart.width = 9, 18
            if block.unit == "count":  # whole numbers on the axis, as in the PDF
                top, step = value_axis(max((v for _, vals in block.series for v in vals), default=0.0), "count")
                chart.y_axis.scaling.min = 0
                chart.y_axis.scaling.max = top
                chart.y_axis.majorUnit = step
                chart.y_axis.number_format = "0"
            if block.categories:
                data = Reference(sh, min_col=2, max_col=1 + len(block.series), min_row=3, max_row=last)
                chart.add_data(data, titles_from_data=True)
                chart.set_categories(Reference(sh, min_col=1, min_row=4, max_row=last))
            sh.add_chart(chart, f"{get_column_letter(len(block.series) + 3)}3")
            sh.column_dimensions["A"].width = 16
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- PDF


@lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, int]:
    """(font file, index in the collection) of a Simplified-Chinese Noto Sans CJK; `$HOTLINE_CJK_FONT`
    overrides the search. `ReportRenderError` when none is installed."""
    candidates: list[Path] = []
    env = os.environ.get(FONT_ENV)
    if env:
        if not Path(env).is_file():
            raise ReportRenderError(f"{FONT_ENV}={env} is not a font file")
        candidates.append(Path(env))
    for folder in FONT_DIRS:
        for name in FONT_NAMES:
            candidates.extend(Path(folder).rglob(name) if folder == "/usr/share/fonts" else [Path(folder) / name])
    for path in candidates:
        if not path.is_file():
            continue
        if path.suffix.lower() != ".ttc":
            return str(path), 0
        from fontTools.ttLib import TTCollection

        with TTCollection(str(path), lazy=True) as coll:
            for i, font in enumerate(coll.fonts):
                family = font["name"].getDebugName(1) or ""
                if family.endswith(" SC"):
                    return str(path), i
        return str(path), 0
    raise ReportRenderError(
        "no CJK font for PDF reports: install the Debian package fonts-noto-cjk (or set HOTLINE_CJK_FONT)"
    )


def _fmt(value: Cell) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value.as_tuple().exponent == -2 else str(value)
    return str(value)


def to_pdf(doc: ReportDoc) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # its subsetter logs every glyph at INFO
    font_path, index = find_cjk_font()
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("cjk", fname=font_path, collection_font_number=index)
    pdf.set_title(doc.title)
    pdf.set_creator("Hotline")
    pdf.add_page()
    pdf.set_font("cjk", size=17)
    pdf.cell(0, 10, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 6, f"期间 Period: {doc.period}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2)
    # KPI tiles
    tile_w = (pdf.epw - 4 * (len(doc.kpis) - 1)) / max(1, len(doc.kpis))
    y = pdf.get_y()
    for i, (label, value) in enumerate(doc.kpis):
        x = pdf.l_margin + i * (tile_w + 4)
        pdf.set_fill_color(236, 241, 248)
        pdf.rect(x, y, tile_w, 17, style="F")
        pdf.set_xy(x + 2, y + 1.5)
        pdf.set_font("cjk", size=8)
        pdf.cell(tile_w - 4, 5, label)
        pdf.set_xy(x + 2, y + 7)
        pdf.set_font("cjk", size=13)
        pdf.cell(tile_w - 4, 8, _fmt(value))
    pdf.set_y(y + 22)
    if doc.analysis:
        _heading(pdf, ANALYSIS_TITLE, 20)
        pdf.set_font("cjk", size=8)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(0, 5, doc.analysis_by, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(0, 6, doc.analysis, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    for block in doc.blocks:
        if isinstance(block, Table):
            _pdf_table(pdf, block, FontFace)
        else:
            _pdf_chart(pdf, block)
    out = pdf.output()
    return bytes(out)


def _heading(pdf: Any, title: str, need: float) -> None:
    if pdf.get_y() + need > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")


def _pdf_table(pdf: Any, t: Table, font_face: Any) -> None:
    _heading(pdf, t.title, 24)
    rows = t.rows[:PDF_ROW_LIMIT]
    pdf.set_font("cjk", size=8.5)
    if not rows:
        pdf.set_text_color(120, 120, 120)
        pdf.cell(0, 6, "（无数据 no data）", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(3)
        return
    natural = [
        max(pdf.get_string_width(str(h)), *(pdf.get_string_width(_fmt(r[i])) for r in rows)) + 4
        for i, h in enumerate(t.headers)
    ]
    weights = [min(w, 90.0) for w in natural] if len(natural) > 1 else [min(natural[0], pdf.epw)]  # text: wide
    total_w = min(pdf.epw, sum(weights))
    numeric = [all(isinstance(r[i], int | Decimal) for r in rows) for i in range(len(t.headers))]
    pdf.set_fill_color(246, 248, 251)
    pdf.set_draw_color(170, 170, 170)
    pdf.set_line_width(0.15)
    with pdf.table(
        width=total_w,
        col_widths=tuple(weights),
        align="LEFT",
        text_align=tuple("RIGHT" if n else "LEFT" for n in numeric),
        headings_style=font_face(emphasis=None, fill_color=(220, 230, 241)),
        line_height=5.2,
        padding=1,
        cell_fill_color=(248, 249, 251),
        cell_fill_mode="ROWS",
    ) as table:
        head = table.row()
        for h in t.headers:
            head.cell(h)
        for r in rows:
            line = table.row()
            for v in r:
                line.cell(_fmt(v))
    if len(t.rows) > len(rows):
        pdf.set_font("cjk", size=8)
        pdf.cell(
            0, 5, f"（仅显示前 {len(rows)} 行，共 {len(t.rows)} 行；完整数据见 XLSX）", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(4)


def value_axis(top: float, unit: str) -> tuple[float, float]:
    """The value axis of a chart whose largest value is `top`: (its top, the step between its 4 gridlines).
    Counts step by whole numbers (0 1 2 3 4, never 0.8 1.5 2.2); amounts by a quarter of the largest."""
    if unit == "count":
        step = float(max(1, math.ceil(top / 4)))
        return step * 4, step
    top = top if top > 0 else 1.0
    return top, top / 4


def _tick(v: float, unit: str, top: float) -> str:
    if unit == "count":
        return f"{v:,.0f}"
    return f"{v:,.0f}" if top >= 4 else f"{v:.1f}"


def _pdf_chart(pdf: Any, c: Chart) -> None:
    height = 62.0
    _heading(pdf, c.title, height + 10)
    x0, y0 = pdf.l_margin + 14, pdf.get_y() + 2
    width = min(pdf.epw - 20, 240.0)
    values = [v for _, vals in c.series for v in vals]
    top, step = value_axis(max(values, default=0.0), c.unit)
    pdf.set_draw_color(160, 160, 160)
    pdf.set_line_width(0.2)
    pdf.line(x0, y0 + height, x0 + width, y0 + height)
    pdf.line(x0, y0, x0, y0 + height)
    pdf.set_font("cjk", size=7)
    for k in range(5):
        v = step * k
        yy = y0 + height - height * k / 4
        pdf.set_xy(x0 - 14, yy - 2)
        pdf.cell(12, 4, _tick(v, c.unit, top), align="R")
        if k:
            pdf.set_draw_color(225, 225, 225)
            pdf.line(x0, yy, x0 + width, yy)
    n = max(1, len(c.categories))
    slot = width / n
    label_step = max(1, int(n / 16) + (1 if n > 16 else 0))
    if c.kind == "line":
        for si, (_, vals) in enumerate(c.series):
            pdf.set_draw_color(*PALETTE[si % len(PALETTE)])
            pdf.set_line_width(0.6)
            pts = [(x0 + slot * (i + 0.5), y0 + height - height * v / top) for i, v in enumerate(vals)]
            if len(pts) > 1:
                pdf.polyline(pts)
            for px, py in pts:
                pdf.set_fill_color(*PALETTE[si % len(PALETTE)])
                pdf.circle(px, py, 0.9, style="F")
    else:
        k = max(1, len(c.series))
        bar = slot * 0.7 / k
        for si, (_, vals) in enumerate(c.series):
            pdf.set_fill_color(*PALETTE[si % len(PALETTE)])
            for i, v in enumerate(vals):
                h = height * v / top
                bx = x0 + slot * i + slot * 0.15 + bar * si
                if h > 0:
                    pdf.rect(bx, y0 + height - h, bar, h, style="F")
                if n <= 16:
                    pdf.set_font("cjk", size=6.5)
                    pdf.set_xy(bx - 3, y0 + height - h - 4)
                    pdf.cell(bar + 6, 4, f"{v:,.0f}" if v == int(v) else f"{v:,.1f}", align="C")
    pdf.set_font("cjk", size=7)
    for i, cat in enumerate(c.categories):
        if i % label_step:
            continue
        pdf.set_xy(x0 + slot * i, y0 + height + 1)
        pdf.cell(slot * label_step, 4, cat[:12], align="C")
    lx = x0
    for si, (name, _) in enumerate(c.series):
        pdf.set_fill_color(*PALETTE[si % len(PALETTE)])
        pdf.rect(lx, y0 + height + 7, 3, 3, style="F")
        pdf.set_xy(lx + 4, y0 + height + 6.5)
        pdf.cell(30, 4, name)
        lx += 34
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(y0 + height + 14)
