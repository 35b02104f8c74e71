"""OCR seconds per page: a clinic note drawn onto letter pages at 200 dpi, as an image-only PDF (a fax).

    python benches/bench_ocr.py [--pages 4]

Prints the seconds per scanned page read through the same path as an attachment (pdftoppm at 200 dpi,
tesseract with one thread per page, pages side by side), and the share of the words read back.
Target (issue 11): at most 3 s a page on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from scans import LINES_PER_PAGE, scanned_pdf

from agent.cases.attachments import OcrLimits, read_file

NOTE = Path(__file__).parent.parent / "evals" / "cases" / "lbp-dialysis-fever-esr-crp-mechanical-history.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    args = parser.parse_args()
    import yaml

    note = yaml.safe_load(NOTE.read_text())["request"]["clinical_notes"]
    lines = note.splitlines()
    text = "\n".join((lines * (LINES_PER_PAGE * args.pages // len(lines) + 1))[: LINES_PER_PAGE * args.pages])
    with tempfile.TemporaryDirectory() as tmp:
        pdf = scanned_pdf(text, Path(tmp) / "packet.pdf")
        started = time.perf_counter()
        doc = read_file(pdf, limits=OcrLimits(max_pages=1000, page_timeout=120))
        seconds = time.perf_counter() - started
    sent, got = Counter(text.split()), Counter(doc.text.split())
    recall = sum((sent & got).values()) / sum(sent.values())
    per_page = seconds / doc.ocr_pages
    print(f"{doc.ocr_pages} scanned pages OCR'd in {seconds:.1f} s: {per_page:.2f} s/page; words read back {recall:.3f}")


if __name__ == "__main__":
    main()
