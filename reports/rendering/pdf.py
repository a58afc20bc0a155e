"""The report as PDF: the HTML report's template, laid out on A4 pages by xhtml2pdf (pure Python, over reportlab).

Nothing is fetched while rendering: the document may read only the bundled fonts (fonts/), remote URLs are refused,
and the chart and map come inline as SVG data URIs, which svglib draws as vectors. The fonts are registered with
svglib too, so the words in the chart and map use them rather than whatever the machine's fontconfig finds.
"""

from __future__ import annotations

import io
import logging
import threading

from svglib.fonts import get_global_font_map
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from reports.rendering.html import FONTS_DIR, PDF_FONTS, ReportMeta, render_html

logger = logging.getLogger(__name__)

SVG_FONT_FAMILIES = ("DejaVu Sans Condensed", "DejaVu Sans", "Helvetica", "Arial", "sans-serif")

_fonts_registered = False
_fonts_lock = threading.Lock()


class PDFRenderError(Exception):
    """xhtml2pdf reported errors while laying the report out."""


def _register_svg_fonts() -> None:
    global _fonts_registered
    with _fonts_lock:
        if _fonts_registered:
            return
        font_map = get_global_font_map()
        for family in SVG_FONT_FAMILIES:
            font_map.register_font(family, str(PDF_FONTS["regular"]), rlgFontName="ReportDejaVuCondensed")
            font_map.register_font(family, str(PDF_FONTS["bold"]), weight="bold", rlgFontName="ReportDejaVuCondensedBd")
        _fonts_registered = True


def _policy() -> ResourceAccessPolicy:
    return ResourceAccessPolicy(allow_remote=False, base_dir=FONTS_DIR, max_render_seconds=120)


def render_pdf(data: dict, meta: ReportMeta) -> bytes:
    _register_svg_fonts()
    html = render_html(data, meta, for_pdf=True)
    buffer = io.BytesIO()
    result = pisa.CreatePDF(
        html,
        dest=buffer,
        encoding="utf-8",
        resource_policy=_policy(),
        context_meta={"title": data["title"], "author": meta.issued_by, "subject": f"SHA-256 {meta.sha256}"},
    )
    if result.err:
        raise PDFRenderError(f"The PDF could not be laid out ({result.err} errors); see the log.")
    return buffer.getvalue()
