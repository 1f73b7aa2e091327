"""What the dashboard and the public summary show of a release: labelled rows, tables and charts.

Everything here reads a release's public document through `services.tallies` (the published,
rounded figures and the coarse reasons); nothing reads a true count. The charts and the tables
next to them are built from the same rows, so they always give the same figures.
"""

from dataclasses import dataclass

from flask_babel import format_decimal
from flask_babel import gettext as _

from .. import charts
from ..i18n import Localized, current_locale, localized
from ..services import tallies as service

DEFER_REASONS = {
    "total_difference": lambda k: _(
        "Fewer than %(k)s signatures changed since an earlier release: comparing the two would "
        "single people out. The next release will be possible once more signatures changed.",
        k=k),
    "structure_changed": lambda k: _(
        "The campaign's sites or departments changed since the previous release, so the two "
        "cannot be compared. An organizer can start a new series of releases."),
}


def defer_reason_text(reason, threshold):
    make = DEFER_REASONS.get(reason)
    return make(threshold) if make else _("Deferred.")


def kind_label(kind):
    return {"scheduled": _("scheduled"), "on_demand": _("on demand")}.get(kind, kind)


def _special(text):
    return Localized(text, current_locale(), False)


def labels(campaign):
    """(kind, key) -> Localized label (marked with its language when it is the fallback)."""
    found = {}
    for unit in campaign.units:
        value = localized(unit, "name")
        found[(unit.kind, unit.code)] = value if value else _special(unit.code)
    for kind in service.DIMENSIONS:
        found[(kind, service.NOT_STATED)] = _special(_("Not stated"))
        found[(kind, service.OTHER)] = _special(_("Other (small units combined)"))
    return found


@dataclass(frozen=True)
class Row:
    label: Localized
    value: int | None
    percent: int | None
    status: str
    note: str
    is_total: bool = False

    @property
    def is_published(self):
        return self.value is not None


def dimension_rows(release, dim, names):
    """Rows of the breakdown of `release` by one dimension, the total last."""
    settings = release.public_data.get("settings", {})
    table = service.breakdown(release, (dim,))
    all_label = {service.SITE: _("All sites"), service.DEPARTMENT: _("All departments")}[dim]
    rows = []
    for cell in table.cells:
        label = names.get((dim, cell.row)) if cell.row is not None else _special(all_label)
        rows.append(Row(label or _special(str(cell.row)), cell.value, cell.percent, cell.status,
                        service.status_text(cell.status, settings), is_total=cell.row is None))
    return rows


@dataclass(frozen=True)
class Grid:
    """The site x department table: rows of cells with their row total, then the column totals."""

    columns: tuple  # Localized labels of the departments (merged "other" last)
    rows: tuple  # (label, (Row per column), row total Row)
    column_totals: tuple
    total: Row


def grid(release, names):
    dims = release.dimension_list
    if len(dims) != 2:
        return None
    settings = release.public_data.get("settings", {})
    table = service.breakdown(release, dims)
    index = {(c.row, c.column): c for c in table.cells}

    def row_of(cell, label, is_total=False):
        return Row(label, cell.value, cell.percent, cell.status,
                   service.status_text(cell.status, settings), is_total)

    columns = tuple(names.get((dims[1], c)) or _special(c) for c in table.columns)
    rows = []
    for r in table.rows:
        label = names.get((dims[0], r)) or _special(r)
        cells = tuple(row_of(index[(r, c)], label) if (r, c) in index else None
                      for c in table.columns)
        rows.append((label, cells, row_of(index[(r, None)], label, True)))
    column_totals = tuple(row_of(index[(None, c)], columns[i], True)
                          for i, c in enumerate(table.columns))
    return Grid(columns, tuple(rows), column_totals,
                row_of(index[(None, None)], _special(_("All")), True))


def hidden_label():
    return _("hidden")


def number(value):
    return format_decimal(value)


def bars(rows, dim, chart_id):
    """A bar chart of one dimension's rows (without the total): hidden ones drawn as hidden."""
    items = [(str(r.label), r.value) for r in rows if not r.is_total]
    hidden = sum(1 for r in rows if not r.is_total and not r.is_published)
    title = {service.SITE: _("Signatures by site"),
             service.DEPARTMENT: _("Signatures by department")}[dim]
    desc = _("%(n)s units, %(hidden)s of them hidden to protect people. Counts are rounded to "
             "multiples of 5. The table below gives the same figures.",
             n=len(items), hidden=hidden)
    return charts.bar_chart(items, chart_id=chart_id, title=title, desc=desc,
                            hidden_label=hidden_label(), number=number)


def period_label(start, period):
    from flask_babel import format_date

    if period == service.MONTH:
        return format_date(start, "MMM yyyy")
    return format_date(start, "d MMM yyyy")


def over_time(points, period, chart_id):
    """The chart of the total over time, and its (label, new, cumulative) rows for the table."""
    rows = [(period_label(p.start, period), p.count, p.cumulative) for p in points]
    if period == service.MONTH:
        title = _("Signatures over time, month by month")
    else:
        title = _("Signatures over time, week by week")
    if rows:
        desc = _("Total number of signatures at the end of each period, from %(first)s (%(a)s) "
                 "to %(last)s (%(b)s). The table below gives the same figures.",
                 first=rows[0][0], a=number(rows[0][2]), last=rows[-1][0], b=number(rows[-1][2]))
    else:
        desc = _("No signature is counted yet.")
    chart = charts.line_chart([(label, cumulative) for label, _new, cumulative in rows],
                              chart_id=chart_id, title=title, desc=desc, number=number)
    return chart, rows


def release_view(release, period, campaign):
    """Everything the dashboard shows of one release."""
    names = labels(campaign)
    view = {"release": release, "dimensions": {}, "grid": grid(release, names),
            "settings": release.public_data.get("settings", {}),
            "total": release.public_data.get("total")}
    for dim in release.dimension_list:
        rows = dimension_rows(release, dim, names)
        view["dimensions"][dim] = {"rows": rows, "chart": bars(rows, dim, f"chart-{dim}")}
    view["breakdown_published"] = release.public_data["table"] is not None and any(
        e["value"] is not None for e in release.public_data["table"]["entries"]
        if e["kind"] != "total")
    view["chart"], view["series"] = over_time(service.release_series(release, period), period,
                                              "chart-time")
    return view


def public_view(campaign):
    """The public campaign page's summary: each public petition's count and its published
    breakdown (a template global)."""
    names = None
    items = []
    for item in service.public_summary(campaign):
        release = item["release"]
        if release is None and item["count"] is None:
            continue  # nothing counted in public yet
        dims = {}
        breakdown_published = False
        if release is not None:
            names = names or labels(campaign)
            for dim in release.dimension_list:
                rows = dimension_rows(release, dim, names)
                dims[dim] = rows
                breakdown_published = breakdown_published or any(
                    r.is_published for r in rows if not r.is_total)
        items.append({**item, "dimensions": dims, "breakdown_published": breakdown_published,
                      "settings": release.public_data.get("settings", {}) if release else {}})
    return items
