"""Make scanned documents for tests and benches: text drawn onto letter-size page images (200 dpi), saved
as PNG or as an image-only PDF (no text layer, like a fax), so reading them needs OCR."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PAGE = (1700, 2200)  # US letter at 200 dpi
LINES_PER_PAGE = 48


def page_images(text: str) -> list[Image.Image]:
    font = ImageFont.truetype(FONT, 30) if Path(FONT).exists() else ImageFont.load_default()
    lines = [wrapped for line in text.splitlines() for wrapped in (textwrap.wrap(line, 90) or [""])]
    pages = []
    for start in range(0, max(len(lines), 1), LINES_PER_PAGE):
        image = Image.new("L", PAGE, 255)
        draw = ImageDraw.Draw(image)
        for n, line in enumerate(lines[start : start + LINES_PER_PAGE]):
            draw.text((120, 120 + n * 40), line, fill=0, font=font)
        pages.append(image)
    return pages


def scanned_pdf(text: str, path: Path) -> Path:
    first, *rest = page_images(text)
    first.save(path, "PDF", resolution=200.0, save_all=True, append_images=rest)
    return path


def scanned_png(text: str, path: Path) -> Path:
    page_images(text)[0].save(path, "PNG", dpi=(200, 200))
    return path


def text_pdf(text: str, path: Path) -> Path:
    """A PDF with a real text layer (as an EHR prints it)."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=letter)
    y = 740
    for line in text.splitlines():
        for wrapped in textwrap.wrap(line, 95) or [""]:
            if y < 60:
                pdf.showPage()
                y = 740
            pdf.drawString(50, y, wrapped)
            y -= 14
    pdf.save()
    return path
