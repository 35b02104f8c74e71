"""Renderings of a Letter: Markdown and HTML (Jinja2 templates), PDF (reportlab) and DOCX (python-docx).

All text is at least 12 point (42 CFR 438.10(d)(6), CMS-10003 instructions). A draft carries a red
banner on page 1, a diagonal DRAFT watermark on every PDF page and a DRAFT line in every page header.
"""

from __future__ import annotations

import importlib.resources
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, StrictUndefined

from agent.letters.model import DRAFT_BANNER, Letter, LetterFormat

BODY_PT = 12
HEADING_PT = 14
TITLE_PT = 18
WATERMARK = "DRAFT"
RED = (0.70, 0.0, 0.0)


def _bold(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(text))


def _register_fonts() -> str:
    """Bitstream Vera ships with reportlab: embedded, with the accents and curly quotes the letter uses."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "Vera" in pdfmetrics.getRegisteredFontNames():
        return "Vera"
    fonts = importlib.resources.files("reportlab").joinpath("fonts")
    for name, file in (
        ("Vera", "Vera.ttf"),
        ("Vera-Bold", "VeraBd.ttf"),
        ("Vera-Italic", "VeraIt.ttf"),
        ("Vera-BoldItalic", "VeraBI.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, str(fonts.joinpath(file))))
    addMapping("Vera", 0, 0, "Vera")
    addMapping("Vera", 1, 0, "Vera-Bold")
    addMapping("Vera", 0, 1, "Vera-Italic")
    addMapping("Vera", 1, 1, "Vera-BoldItalic")
    return "Vera"


def write_pdf(letter: Letter, path: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import LETTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import inch
    from reportlab.platypus import KeepTogether, ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_fonts()
    body = ParagraphStyle("body", fontName=font, fontSize=BODY_PT, leading=BODY_PT * 1.35, spaceAfter=6)
    line = ParagraphStyle("line", parent=body, spaceAfter=1)
    heading = ParagraphStyle(
        "h2", fontName="Vera-Bold", fontSize=HEADING_PT, leading=HEADING_PT * 1.3, spaceBefore=12, spaceAfter=6
    )
    title = ParagraphStyle("title", fontName="Vera-Bold", fontSize=TITLE_PT, leading=TITLE_PT * 1.3, spaceAfter=10)
    banner = ParagraphStyle("banner", parent=body, fontName="Vera-Bold", textColor=colors.Color(*RED), spaceAfter=0)

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=LETTER,
        leftMargin=0.9 * inch,
        rightMargin=0.9 * inch,
        topMargin=0.8 * inch,
        bottomMargin=0.9 * inch,
        title=letter.title + (" (DRAFT)" if letter.is_draft else ""),
        author=letter.plan.name,
        subject=letter.case_id,
    )
    story: list = []
    if letter.is_draft:
        box = Table([[Paragraph(escape(DRAFT_BANNER), banner)]], colWidths=[doc.width - 12])  # the frame pads 6 pt a side
        box.setStyle(
            TableStyle(
                [
                    ("BOX", (0, 0), (-1, -1), 2, colors.Color(*RED)),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("TOPPADDING", (0, 0), (-1, -1), 6),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ]
            )
        )
        story += [box, Spacer(1, 10)]
    story.append(Paragraph(escape(letter.title), title))
    for section in letter.sections:
        flow: list = [] if section.key == "header" else [Paragraph(escape(section.heading), heading)]
        for block in section.blocks:
            if block.kind == "p":
                flow.append(Paragraph(_bold(block.items[0]), body))
            elif block.kind == "lines":
                flow += [Paragraph(_bold(i), line) for i in block.items]
                flow.append(Spacer(1, 5))
            else:
                items = [ListItem(Paragraph(_bold(i), body), leftIndent=18, value="•") for i in block.items]
                flow.append(ListFlowable(items, bulletType="bullet", bulletFontName=font, bulletFontSize=BODY_PT, leftIndent=18))
                flow.append(Spacer(1, 4))
        # Keep a heading with the start of its section; long sections may still break after that.
        story += [KeepTogether(flow[:2]), *flow[2:]] if len(flow) > 2 else flow

    def decorate(canvas: Any, doc: Any) -> None:  # reportlab's page callback
        canvas.saveState()
        width, height = LETTER
        if letter.is_draft:
            canvas.setFillColor(colors.Color(*RED, alpha=0.12))
            canvas.setFont("Vera-Bold", 120)
            canvas.translate(width / 2, height / 2)
            canvas.rotate(35)
            canvas.drawCentredString(0, -40, WATERMARK)
            canvas.rotate(-35)
            canvas.translate(-width / 2, -height / 2)
        canvas.setFillColor(colors.Color(*RED) if letter.is_draft else colors.black)
        canvas.setFont(font, BODY_PT)
        status = "DRAFT - not for sending" if letter.is_draft else letter.title
        canvas.drawString(0.9 * inch, 0.55 * inch, f"{status}  |  {letter.case_id}")
        canvas.drawRightString(width - 0.9 * inch, 0.55 * inch, f"Page {doc.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return path


def _runs(paragraph: Any, text: str) -> None:  # a python-docx Paragraph
    for i, piece in enumerate(re.split(r"\*\*(.+?)\*\*", text)):
        if piece:
            paragraph.add_run(piece).bold = i % 2 == 1


def write_docx(letter: Letter, path: Path) -> Path:
    from docx import Document
    from docx.shared import Pt, RGBColor

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(BODY_PT)
    for name, size in (("Title", TITLE_PT), ("Heading 1", HEADING_PT), ("List Bullet", BODY_PT)):
        doc.styles[name].font.size = Pt(size)
    red = RGBColor(0xB0, 0, 0)
    if letter.is_draft:
        header = doc.sections[0].header.paragraphs[0]
        run = header.add_run("DRAFT - not for sending")
        run.bold, run.font.color.rgb, run.font.size = True, red, Pt(BODY_PT)
        run = doc.add_paragraph().add_run(DRAFT_BANNER)
        run.bold, run.font.color.rgb = True, red
    doc.add_heading(letter.title, level=0)
    for section in letter.sections:
        if section.key != "header":
            doc.add_heading(section.heading, level=1)
        for block in section.blocks:
            if block.kind == "p":
                _runs(doc.add_paragraph(), block.items[0])
            elif block.kind == "bullets":
                for item in block.items:
                    _runs(doc.add_paragraph(style="List Bullet"), item)
            else:
                for item in block.items:
                    p = doc.add_paragraph()
                    p.paragraph_format.space_after = Pt(0)
                    _runs(p, item)
    doc.core_properties.title = letter.title + (" (DRAFT)" if letter.is_draft else "")
    doc.core_properties.subject = letter.case_id
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def _html_inline(text: str) -> str:
    from markupsafe import Markup, escape

    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(escape(text))))


@cache
def template_env(autoescape: bool = False) -> Environment:
    env = Environment(
        loader=PackageLoader("agent.letters", "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["capfirst"] = lambda s: s[:1].upper() + s[1:]
    return env


_HTML_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def letter_markdown(letter: Letter) -> str:
    """The letter as Markdown. Raw HTML is neutralised (``<script>`` -> ``&lt;script>``): Markdown viewers
    render inline HTML, and signer names or plan details are not trusted to be free of it."""
    text = template_env().get_template("letter.md.j2").render(letter=letter, banner=DRAFT_BANNER)
    return _HTML_TAG_START.sub("&lt;", text)


def letter_html(letter: Letter) -> str:
    html_env = template_env(autoescape=True)
    html_env.filters["rich"] = _html_inline
    return html_env.get_template("letter.html.j2").render(letter=letter, banner=DRAFT_BANNER)


def render_letter(letter: Letter, fmt: LetterFormat, path: Path) -> Path:
    """Write ``letter`` to ``path`` in ``fmt`` (md, html, pdf or docx) and return the path."""
    if fmt == "md":
        path.write_text(letter_markdown(letter), encoding="utf-8")
    elif fmt == "html":
        path.write_text(letter_html(letter), encoding="utf-8")
    elif fmt == "pdf":
        write_pdf(letter, path)
    else:
        write_docx(letter, path)
    return path


def letter_bytes(letter: Letter, fmt: LetterFormat) -> bytes:
    """``letter`` rendered in ``fmt`` as bytes (what the API sends)."""
    if fmt == "md":
        return letter_markdown(letter).encode()
    if fmt == "html":
        return letter_html(letter).encode()
    with tempfile.TemporaryDirectory() as tmp:
        return render_letter(letter, fmt, Path(tmp) / f"letter.{fmt}").read_bytes()
