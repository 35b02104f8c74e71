"""Inline SVG charts of the oversight report, drawn on the server: no script, no network, no CDN.

Only presentation attributes (``fill``, ``stroke``), never ``style``: the workbench's Content-Security-Policy
allows styles from its own stylesheet only. Every text is escaped; each mark carries a ``<title>`` tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from agent.evals.oversight import Agreement

AGREE = "#127a3f"
OVERTURN = "#b42318"
UNSAFE = "#7a0916"
GRID = "#e4e7ec"
INK = "#1d2330"
MUTED = "#667085"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def timeline_svg(rows: Sequence[Agreement], *, threshold: float | None = None, width: int = 760, height: int = 260) -> str:
    """Agreement and overturn rate per time bucket (lines), signed codes per bucket (bars), and the
    alert threshold (dashed)."""
    left, right, top, bottom = 48, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(rows)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" aria-labelledby="tl-title" class="chart timeline" font-family="inherit" font-size="11">',
        '<title id="tl-title">Agreement and overturn rate of signed codes over time</title>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{tick * 100:.0f}%</text>')
    if not n:
        out.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="{MUTED}">no signed reviews</text>'
        )
        out.append("</svg>")
        return "\n".join(out)
    step = plot_w / n
    most = max(r.codes for r in rows) or 1
    for i, r in enumerate(rows):  # volume bars, light, in the lower third
        bar_h = plot_h / 3 * r.codes / most
        x = left + i * step + step * 0.2
        out.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{step * 0.6:.1f}" height="{bar_h:.1f}" fill="#d0d5dd" '
            f'fill-opacity="0.6"><title>{escape(r.key)}: {r.codes} signed code(s)</title></rect>'
        )
    if threshold is not None:
        y = top + plot_h * (1 - threshold)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{OVERTURN}" stroke-dasharray="5 4" '
            f'class="threshold"><title>alert threshold {_pct(threshold)}</title></line>'
        )
    for name, attr, color in (("agreement", "agreement", AGREE), ("overturn rate", "overturn_rate", OVERTURN)):
        points = [
            (left + i * step + step / 2, top + plot_h * (1 - getattr(r, attr)), r)
            for i, r in enumerate(rows)
            if getattr(r, attr) is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2" class="series-{attr}"/>')
        for x, y, r in points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}" class="point-{attr}"><title>{escape(r.key)}: '
                f"{name} {_pct(getattr(r, attr))} of {r.codes} code(s)</title></circle>"
            )
    every = max(1, n // 8)
    for i, r in enumerate(rows):
        if i % every == 0 or i == n - 1:
            x = left + i * step + step / 2
            out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="{MUTED}">{escape(r.key)}</text>')
    legend_y = height - 8
    for j, (label, color) in enumerate((("agreement", AGREE), ("overturn rate", OVERTURN), ("signed codes", "#d0d5dd"))):
        x = left + j * 130
        out.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{legend_y}" fill="{INK}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out)


def bars_svg(rows: Sequence[Agreement], *, title: str, width: int = 520, limit: int = 12) -> str:
    """Overturn rate per row as horizontal bars; the deny -> approve share of each bar in dark red."""
    shown = list(rows[:limit])
    label_w, right, bar_h, gap, top = 170, 70, 18, 6, 6
    plot_w = width - label_w - right
    height = top + max(1, len(shown)) * (bar_h + gap) + 4
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" class="chart bars" font-family="inherit" font-size="11"><title>{escape(title)}</title>',
    ]
    if not shown:
        out.append(f'<text x="{label_w}" y="{top + 13}" fill="{MUTED}">no signed codes</text>')
    for i, r in enumerate(shown):
        y = top + i * (bar_h + gap)
        key = r.key if len(r.key) <= 26 else r.key[:25] + "…"
        out.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" fill="{INK}">{escape(key)}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{bar_h}" fill="#f2f4f7"/>')
        rate = r.overturn_rate or 0.0
        if rate:
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{plot_w * rate:.1f}" height="{bar_h}" fill="{OVERTURN}" fill-opacity="0.75">'
                f"<title>{escape(r.key)}: {r.overturned} of {r.codes} overturned</title></rect>"
            )
        if r.deny_to_approve and r.codes:
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{plot_w * r.deny_to_approve / r.codes:.1f}" height="{bar_h}" '
                f'fill="{UNSAFE}" class="unsafe"><title>{escape(r.key)}: {r.deny_to_approve} recommended deny overturned '
                "to approve</title></rect>"
            )
        out.append(
            f'<text x="{label_w + plot_w + 6}" y="{y + 13}" fill="{INK}">{_pct(r.overturn_rate)} '
            f'<tspan fill="{MUTED}">({r.overturned}/{r.codes})</tspan></text>'
        )
    out.append("</svg>")
    return "\n".join(out)
