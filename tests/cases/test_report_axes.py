"""Charts of counts have whole numbers on their value axis (#17: the monthly claims report put 3 claims on a
0.8 / 1.5 / 2.2 axis), in the PDF and in the XLSX; amounts keep their own scale."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

from openpyxl import load_workbook

from cases.reports.document import Chart, ReportDoc
from cases.reports.render import to_pdf, to_xlsx, value_axis


def _doc(*charts: Chart) -> ReportDoc:
    return ReportDoc("axes", "坐标轴 Axes", "2026-11", (("件数", 3),), charts)


def test_count_axes_step_by_whole_numbers() -> None:
    assert value_axis(3, "count") == (4.0, 1.0)
    assert value_axis(0, "count") == (4.0, 1.0)
    assert value_axis(9, "count") == (12.0, 3.0)
    assert value_axis(2000, "count") == (2000.0, 500.0)
    top, step = value_axis(3, "yuan")
    assert (top, step) == (3.0, 0.75)  # an amount may fall between whole yuan


def test_pdf_axis_of_three_claims_reads_0_to_4(tmp_path: Path) -> None:
    chart = Chart("事故原因（件数）", "bar", ("装卸破损", "丢失"), (("件数", (3.0, 1.0)),))
    (tmp_path / "a.pdf").write_bytes(to_pdf(_doc(chart)))
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: install the Debian package poppler-utils"
    text = subprocess.run([pdftotext, str(tmp_path / "a.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    decimals = re.findall(r"\b\d\.\d\b", text)
    assert decimals == [], decimals  # before: 0.0 0.8 1.5 2.2 3.0
    lines = set(text.split())
    assert {"0", "1", "2", "3", "4"} <= lines, text


def test_xlsx_count_chart_has_a_whole_number_axis() -> None:
    counts = Chart("按问题类型", "bar", ("延误", "破损"), (("件数", (3.0, 2.0)),))
    money = Chart("事故原因（索赔金额）", "bar", ("延误",), (("索赔金额", (1234.5,)),), unit="yuan")
    wb = load_workbook(io.BytesIO(to_xlsx(_doc(counts, money))))
    charts = [c for ws in wb.worksheets for c in ws._charts]
    assert len(charts) == 2
    count_axis = charts[0].y_axis
    assert count_axis.majorUnit == 1 and count_axis.scaling.min == 0 and count_axis.scaling.max == 4
    assert count_axis.number_format.formatCode == "0"
    assert charts[1].y_axis.majorUnit is None  # amounts: Excel's own scale
