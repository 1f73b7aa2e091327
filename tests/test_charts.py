"""Server-side SVG charts: well-formed, accessible (title, desc, role, labels), static under a
strict CSP (no script, no style attribute, nothing from elsewhere), escaping what comes from data,
and drawing exactly the figures given, hidden ones as hidden."""

import re
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from campaign import charts

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<script>alert("x")</script> & Co'


def parse(markup):
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))  # noqa: S314 - our own output; raises if not well-formed


def assert_accessible(root, chart_id, title, desc):
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
    title_el = root.find(f"{SVG}title")
    desc_el = root.find(f"{SVG}desc")
    assert title_el.get("id") == f"{chart_id}-title" and title_el.text == title
    assert desc_el.get("id") == f"{chart_id}-desc" and desc_el.text == desc
    assert list(root)[:2] == [title_el, desc_el]  # first children, as assistive tools expect


def assert_static(markup):
    text = str(markup)
    assert "<script" not in text.replace("&lt;script", "")
    assert "style=" not in text and "<style" not in text
    assert "href" not in text and "@import" not in text and "<image" not in text
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"]
    assert " on" not in re.sub(r'"[^"]*"', '""', text)  # no event handler attribute


def test_the_line_chart_is_accessible_static_and_draws_every_point():
    points = [("5 Oct", 12), ("12 Oct", 40), ("19 Oct", 95), ("26 Oct", 130)]
    markup = charts.line_chart(points, chart_id="chart-time", title="Signatures over time",
                               desc="From 12 to 130.")
    root = parse(markup)
    assert_accessible(root, "chart-time", "Signatures over time", "From 12 to 130.")
    assert_static(markup)
    tooltips = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")]
    assert tooltips == ["5 Oct: 12", "12 Oct: 40", "19 Oct: 95", "26 Oct: 130"]
    circles = [float(c.get("cy")) for c in root.iter(f"{SVG}circle")]
    assert circles == sorted(circles, reverse=True)  # growing counts go up the chart
    ticks = [int(t.text) for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks[0] == 0 and ticks[-1] >= 130


def test_the_bar_chart_draws_hidden_figures_as_hidden_not_as_zero():
    items = [("Paris", 120), ("Lyon", None), ("Lille", 60), ("Nantes", 0)]
    markup = charts.bar_chart(items, chart_id="chart-site", title="By site", desc="One hidden.",
                              hidden_label="hidden")
    root = parse(markup)
    assert_accessible(root, "chart-site", "By site", "One hidden.")
    assert_static(markup)
    groups = list(root.iter(f"{SVG}g"))
    assert [g.find(f"{SVG}title").text for g in groups] == [
        "Paris: 120", "Lyon: hidden", "Lille: 60", "Nantes: 0"]
    widths = {}
    for group, (label, _value) in zip(groups, items, strict=True):
        rect = group.find(f"{SVG}rect")
        widths[label] = float(rect.get("width"))
        shown = [t.text for t in group.findall(f"{SVG}text")]
        assert shown[0] == label
        if label == "Lyon":
            assert rect.get("fill") == "none" and rect.get("stroke-dasharray")
            assert shown[1] == "hidden"
    assert widths["Lille"] == pytest.approx(widths["Paris"] / 2)
    assert widths["Nantes"] == 0


def test_text_from_data_is_escaped_once():
    markup = charts.bar_chart([(NASTY, 10)], chart_id="chart-x", title=NASTY, desc=NASTY,
                              hidden_label="hidden")
    root = parse(markup)  # would fail if the label broke out of its element
    assert root.find(f"{SVG}title").text == NASTY
    assert "<script>" not in str(markup) and "&amp;lt;" not in str(markup)
    line = charts.line_chart([(NASTY, 3)], chart_id="chart-y", title="t", desc="d")
    assert parse(line).find(f"{SVG}g/{SVG}title").text == f"{NASTY}: 3"


def test_numbers_are_formatted_by_the_caller():
    markup = charts.bar_chart([("Paris", 1200)], chart_id="chart-n", title="t", desc="d",
                              hidden_label="h", number=lambda n: f"{n:,}".replace(",", "\u202f"))
    assert "1\u202f200" in str(markup)


def test_an_empty_chart_is_still_a_named_image():
    for markup in (charts.line_chart([], chart_id="chart-e", title="Nothing yet", desc="None."),
                   charts.bar_chart([], chart_id="chart-f", title="Nothing yet", desc="None.",
                                    hidden_label="h")):
        root = parse(markup)
        assert root.find(f"{SVG}title").text == "Nothing yet"


def test_chart_ids_cannot_inject_markup():
    with pytest.raises(ValueError):
        charts.line_chart([], chart_id='x" onload="alert(1)', title="t", desc="d")


@pytest.mark.parametrize(("maximum", "step"), [(0, 1), (3, 1), (9, 5), (130, 50), (412, 200),
                                               (1000, 500), (999_999, 500_000)])
def test_gridlines_fall_on_round_numbers(maximum, step):
    assert charts.nice_step(maximum) == step
