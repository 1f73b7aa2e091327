"""Server-side SVG charts (signatures over time, breakdown bars): static, accessible, CSP-safe.

Each chart is an inline ``<svg role="img">`` named by its ``<title>`` and described by its
``<desc>`` (``aria-labelledby`` points at both); the page shows the same figures as a table next
to it, for screen readers and for anyone who wants the numbers. No script, no external font or
image, no ``style`` attribute (the Content-Security-Policy has ``style-src 'self'``): colours and
fonts are SVG presentation attributes. Every text that comes from data (unit names) is escaped
here, so the result is safe Markup; nothing else in this module trusts its input.
"""

import math
import re

from markupsafe import Markup

INK = "#1b1b1f"
MUTED = "#4a4a55"
LINE = "#c9c7d4"
ACCENT = "#5a1f8f"
SOFT = "#e9e4f2"
FONT = "system-ui, sans-serif"
ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


def _attrs(**attributes):
    """Presentation attributes, escaped: ``font_size=12`` -> ``font-size="12"``."""
    return Markup(" ").join(
        Markup('{}="{}"').format(name.rstrip("_").replace("_", "-"), value)
        for name, value in attributes.items() if value is not None
    )


def _tag(name, text=None, **attributes):
    """One element; `text` (escaped) makes it a container, else it is self-closing."""
    attrs = _attrs(**attributes)
    opening = Markup("<{} {}").format(name, attrs) if attrs else Markup("<{}").format(name)
    if text is None:
        return opening + Markup("/>")
    return opening + Markup(">{}</{}>").format(text, name)


def _svg(chart_id, title, desc, width, height, body):
    if not ID_RE.match(chart_id):
        raise ValueError("chart ids are lower-case letters, digits and dashes")
    head = Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'preserveAspectRatio="xMinYMin meet" role="img" focusable="false" '
        'aria-labelledby="{id}-title {id}-desc" class="chart">'
    ).format(w=width, h=height, id=chart_id)
    return (head + _tag("title", title, id=f"{chart_id}-title")
            + _tag("desc", desc, id=f"{chart_id}-desc") + Markup("").join(body)
            + Markup("</svg>"))


def nice_step(maximum, ticks=4):
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` gridlines."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return max(1, int(factor * power))
    return max(1, int(10 * power))  # pragma: no cover - the loop always returns


def _short(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def line_chart(points, *, chart_id, title, desc, number=str, width=640, height=260):
    """A line of `points` ((label, value), in order): e.g. the total of signatures over time."""
    left, right, top, bottom = 56, 40, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _label, v in points]
    top_value = max(values, default=0)
    step = nice_step(top_value)
    y_max = max(step, math.ceil(top_value / step) * step)
    body = []

    def y(value):
        return top + plot_h - plot_h * value / y_max

    tick = 0
    while tick <= y_max:
        body.append(_tag("line", x1=left, x2=left + plot_w, y1=f"{y(tick):.1f}",
                         y2=f"{y(tick):.1f}", stroke=LINE, stroke_width=1))
        body.append(_tag("text", number(tick), x=left - 6, y=f"{y(tick) + 4:.1f}",
                         text_anchor="end", font_family=FONT, font_size=12, fill=MUTED))
        tick += step
    if points:
        gap = plot_w / max(1, len(points) - 1)
        coords = [(left + (i * gap if len(points) > 1 else plot_w / 2), y(v))
                  for i, (_label, v) in enumerate(points)]
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
        area = f"{coords[0][0]:.1f},{y(0):.1f} {path} {coords[-1][0]:.1f},{y(0):.1f}"
        body.append(_tag("polygon", points=area, fill=SOFT))
        body.append(_tag("polyline", points=path, fill="none", stroke=ACCENT, stroke_width=2.5))
        every = max(1, math.ceil(len(points) / 8))
        for i, ((label, value), (x, yy)) in enumerate(zip(points, coords, strict=True)):
            body.append(Markup("<g>{}{}</g>").format(
                _tag("circle", cx=f"{x:.1f}", cy=f"{yy:.1f}", r=3, fill=ACCENT),
                _tag("title", f"{label}: {number(value)}")))
            if i % every == 0 or i == len(points) - 1:
                body.append(_tag("text", label, x=f"{x:.1f}", y=height - bottom + 18,
                                 text_anchor="middle", font_family=FONT, font_size=11,
                                 fill=MUTED))
    body.append(_tag("line", x1=left, x2=left + plot_w, y1=f"{y(0):.1f}", y2=f"{y(0):.1f}",
                     stroke=INK, stroke_width=1))
    return _svg(chart_id, title, desc, width, height, body)


def bar_chart(items, *, chart_id, title, desc, hidden_label, number=str, width=640):
    """Horizontal bars of `items` ((label, value or None), ...); a None value is drawn as a
    dashed empty bar reading `hidden_label`, so hidden figures show as hidden, not as zero."""
    label_w, value_w, row_h, top = 200, 170, 28, 8
    plot_w = width - label_w - value_w
    height = top * 2 + row_h * max(1, len(items))
    top_value = max((v for _label, v in items if v is not None), default=0) or 1
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        shown = number(value) if value is not None else hidden_label
        body.append(Markup("<g>") + _tag("title", f"{label}: {shown}"))
        body.append(_tag("text", _short(label, 30), x=label_w - 8, y=y + row_h / 2 + 4,
                         text_anchor="end", font_family=FONT, font_size=12, fill=INK))
        if value is None:
            body.append(_tag("rect", x=label_w, y=y + 5, width=plot_w, height=row_h - 10,
                             fill="none", stroke=MUTED, stroke_width=1, stroke_dasharray="4 3"))
            end = label_w + plot_w
        else:
            bar = max(1.0, plot_w * value / top_value) if value else 0
            body.append(_tag("rect", x=label_w, y=y + 5, width=f"{bar:.1f}", height=row_h - 10,
                             fill=ACCENT))
            end = label_w + bar
        body.append(_tag("text", shown, x=f"{end + 6:.1f}", y=y + row_h / 2 + 4,
                         font_family=FONT, font_size=12,
                         fill=INK if value is not None else MUTED))
        body.append(Markup("</g>"))
    return _svg(chart_id, title, desc, width, height, body)
