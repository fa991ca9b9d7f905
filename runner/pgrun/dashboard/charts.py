"""Charts of outcomes per minute as inline SVG, drawn on the server: no script, no CDN, nothing
to build, and a page that polls gets a new chart with the rest of its fragment. The labels are
relative ("-29m" .. "now"), so a chart reads the same whenever it is drawn."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 140  # the SVG's own units; CSS scales it to the card
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 16, 118, 36


def per_minute(rows: list[dict], minutes: int, now: datetime, *fields: str) -> list[int]:
    """Sum of `fields` for each of the last `minutes` minutes, oldest first, zero where no row
    (job_throughput's rows: one per minute and task)."""
    last = now.replace(second=0, microsecond=0)
    first = last - timedelta(minutes=minutes - 1)
    sums = [0] * minutes
    for row in rows:
        index = int((row["minute"] - first).total_seconds() // 60)
        if 0 <= index < minutes:
            sums[index] += sum(row[field] for field in fields)
    return sums


def bar_chart(values: list[int], *, title: str, color: str, chart_id: str) -> Markup:
    """One bar a minute, the newest on the right; the top of the scale is labelled."""
    top = max(values + [1])
    slot = (WIDTH - PLOT_LEFT) / max(len(values), 1)
    height = PLOT_BOTTOM - PLOT_TOP
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" data-total="{sum(values)}">',
        f'<text x="{PLOT_LEFT}" y="11" class="chart-title">{escape(title)}</text>',
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_TOP + 4}" text-anchor="end" class="chart-axis">{top}</text>',
        f'<text x="{PLOT_LEFT - 4}" y="{PLOT_BOTTOM}" text-anchor="end" class="chart-axis">0</text>',
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_BOTTOM}" x2="{WIDTH}" y2="{PLOT_BOTTOM}" class="chart-base"/>',
    ]
    for i, value in enumerate(values):
        bar = round(height * value / top, 1)
        ago = len(values) - 1 - i
        label = f"{value} ({ago} min ago)" if ago else f"{value} (this minute)"
        parts.append(
            f'<rect x="{PLOT_LEFT + i * slot + 1:.1f}" y="{PLOT_BOTTOM - bar}" '
            f'width="{max(slot - 2, 1):.1f}" height="{bar}" fill="{escape(color)}">'
            f'<title>{label}</title></rect>')
    last, middle = len(values) - 1, len(values) // 2
    for i, text in ((0, f"-{last}m"), (middle, f"-{last - middle}m"), (last, "now")):
        parts.append(f'<text x="{PLOT_LEFT + (i + 0.5) * slot:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                     f'class="chart-axis">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
