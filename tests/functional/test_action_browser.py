"""report.html and email.html as a phone (375 px) and a laptop (1280 px) show them, and report.html
printed to PDF on Letter and A4, in headless Chromium (#20).

Chromium's headless window is at least 500 px wide, so each page is measured inside an iframe of the
exact width (media queries follow the iframe): no horizontal overflow of the document, the
at-a-glance table within its box at 1280 px, the headline present. The printed PDF is read with
pypdf: every page carries "Page N of M" and the confidentiality line (CSS page margin boxes).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pypdf
import pytest

from tests.conftest import SAMPLE_EXPORT
from tests.functional.test_reports_browser import CHROMIUM, FLAGS
from tests.helpers import cli

HEADLINE = re.compile(
    r"^[\d,]+ patients? needs? action tonight, ([\d,]+|1–\d+) new, ([\d,]+|1–\d+) high priority\.$"
)

MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{src}" width="{width}" height="900" style="border:0"></iframe>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const w = document.getElementById('f').contentWindow, d = w.document;
  const glance = d.querySelector('table.glance');
  const found = {{
    scroll: d.documentElement.scrollWidth, inner: w.innerWidth,
    headline: d.getElementById('headline') ? d.getElementById('headline').textContent.trim() : null,
    glance: glance ? [glance.parentElement.scrollWidth, glance.parentElement.clientWidth] : null,
  }};
  const out = document.createElement('pre'); out.id = 'measure'; out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
}});
</script></body></html>"""


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, "--allow-file-access-from-files", f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """Two nights of the sample clinic with one exception recorded between them."""
    tmp = tmp_path_factory.mktemp("action")
    db = str(tmp / "a.duckdb")
    base = ["run", "--exports", str(SAMPLE_EXPORT), "--db", db]
    assert cli(*base, "--out", str(tmp / "first"), "--as-of", "2026-11-19") == 0
    with duckdb.connect(db, read_only=True) as con:
        patient = con.execute(
            "SELECT min(patient_id) FROM findings WHERE check_id = 'diuretic_electrolyte_monitoring'"
        ).fetchall()[0][0]
    review = ["review", patient, "--check", "diuretic_electrolyte_monitoring", "--status", "exception"]
    assert cli(*review, "--reason", "patient_declined", "--by", "Dr Shah", "--db", db) == 0
    assert cli(*base, "--out", str(tmp / "out"), "--as-of", "2026-11-20") == 0
    return tmp / "out"


def measure(tmp: Path, page: Path, width: int) -> dict:
    wrapper = tmp / f"measure-{width}-{page.name}"
    wrapper.write_text(MEASURE.format(src=page.as_uri(), width=width), encoding="utf-8")
    result = chromium(
        tmp, "--dump-dom", "--virtual-time-budget=5000", "--window-size=1400,1000", wrapper.as_uri()
    )
    found = re.search(r'<pre id="measure">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["report.html", "email.html"])
@pytest.mark.parametrize("width", [375, 1280])
def test_no_horizontal_overflow_and_the_headline_shows(out, tmp_path, name, width):
    found = measure(tmp_path, out / name, width)
    assert found["inner"] == width
    assert found["scroll"] <= found["inner"], found
    assert found["headline"] and HEADLINE.match(found["headline"]), found["headline"]
    if name == "report.html" and width == 1280:
        scroll, box = found["glance"]
        assert scroll <= box, f"the at-a-glance table is {scroll} px wide in a {box} px box"


@pytest.mark.slow
@pytest.mark.parametrize("width", [375, 1280])
def test_screenshots(out, tmp_path, width):
    wrapper = tmp_path / "shot.html"
    wrapper.write_text(MEASURE.format(src=(out / "report.html").as_uri(), width=width), encoding="utf-8")
    png = tmp_path / f"report-{width}.png"
    result = chromium(
        tmp_path, f"--screenshot={png}", f"--window-size={max(width, 500)},900", wrapper.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000


# (page size in points, the CSS that asks for it); no CSS: Chromium's default, Letter
PAPERS = {"letter": ((612, 792), ""), "a4": ((595, 842), "<style>@page { size: A4; }</style>")}


@pytest.mark.slow
@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_printed_report_has_page_numbers_and_the_confidentiality_line_on_every_page(out, tmp_path, paper):
    (width, height), css = PAPERS[paper]
    page = tmp_path / "report.html"
    page.write_text((out / "report.html").read_text(encoding="utf-8").replace("</head>", css + "</head>"))
    pdf = tmp_path / f"report-{paper}.pdf"
    result = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
    reader = pypdf.PdfReader(pdf)
    pages = len(reader.pages)
    assert pages > 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (width, height)
    for number, sheet in enumerate(reader.pages, 1):
        text = sheet.extract_text()
        assert f"Page {number} of {pages}" in text, (number, text[:300])
        assert "Confidential: contains patient identifiers" in text, number
    first = reader.pages[0].extract_text()
    assert "clinical audit report" in first
