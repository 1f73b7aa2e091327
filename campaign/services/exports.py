"""Exports of a tally release as CSV or JSON: suppressed figures only, inert, traceable, bilingual.

One function, `export_release`, serves the dashboard's download and `flask tallies export`, so
both give the same file for the same arguments (only the audit event's id differs: each export
is an event of its own). What a file holds comes from an allow-list: unit codes and names, the
published (rounded) counts, the share of a unit's headcount, why a figure is hidden, and the
signatures per week or month of the whole petition. Never a name, an e-mail address, a true
small count or a time of day (dates only).

- Every file carries the id of the audit event that produced it: the first line of a CSV
  (``# Audit event: …``), the ``audit_event`` field of a JSON document.
- CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
  carriage return) get a leading apostrophe, so ``=HYPERLINK(…)`` opens as text.
- The French-spreadsheet option writes ``;`` separators and UTF-8 with a byte-order mark (what
  LibreOffice and Excel in French expect: accents intact, columns split); otherwise ``,`` and
  plain UTF-8 (RFC 4180, CRLF line ends either way).
- Headers, labels and notes are in the language asked for (``force_locale``); JSON keys and
  status codes stay stable English identifiers, next to their translated labels.
"""

import csv
import io
import json
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _

from .. import audit
from ..i18n import LOCALES
from . import tallies

CSV, JSON = "csv", "json"
FORMATS = (CSV, JSON)
#: first characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFile:
    filename: str
    mimetype: str
    content: bytes
    event_id: str


def guard_cell(value):
    """A CSV cell that opens as text: formulas are neutralized with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def export_release(release, *, by, period, fmt, lang, french_csv=False, actor=None):
    """Audit one export of `release` and return the file. Flushes, never commits.

    `by`: "site", "department", "site,department" (a subset of the release's dimensions, or
    nothing for the total only); `period`: "week" or "month"; `fmt`: "csv" or "json".
    """
    if fmt not in FORMATS:
        raise tallies.TallyError("bad_format")
    if lang not in LOCALES:
        raise tallies.TallyError("bad_language")
    if period not in tallies.PERIODS:
        raise tallies.TallyError("bad_period")
    if release.is_deferred:
        raise tallies.TallyError("deferred")
    by = tallies.parse_dimensions(by)
    table = tallies.breakdown(release, by)  # refuses dimensions the release does not have
    points = tallies.release_series(release, period)
    petition = release.petition
    campaign = petition.campaign
    event = audit.record(
        "tally_exported", actor=actor, target_type=tallies.TABLE, target_id=release.public_id,
        campaign=campaign,
        details={"petition": petition.slug, "format": fmt, "by": list(by), "period": period,
                 "locale": lang, "kind": "french_csv" if fmt == CSV and french_csv else None},
    )
    with force_locale(lang):
        document = _document(release, table, points, period, lang, event.public_id)
        if fmt == JSON:
            content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
            mimetype = "application/json"
        else:
            content = _csv(document, french=french_csv)
            mimetype = "text/csv; charset=utf-8"
    name = f"tally-{campaign.slug}-{petition.slug}-{release.as_of.isoformat()}.{fmt}"
    return ExportFile(name, mimetype, content, event.public_id)


def _document(release, table, points, period, lang, event_id):
    """The export as plain data in the current (forced) language: what JSON dumps, CSV lays out."""
    petition = release.petition
    campaign = petition.campaign
    settings = release.public_data.get("settings", {})
    labels = tallies.line_labels(campaign, lang)
    dimension_names = {tallies.SITE: _("Site"), tallies.DEPARTMENT: _("Department")}
    all_of = {tallies.SITE: _("All sites"), tallies.DEPARTMENT: _("All departments")}

    def line(dim, key):
        if key is None:
            return {"code": None, "name": all_of[dim]}
        return {"code": key, "name": labels.get((dim, key), key)}

    rows = []
    for cell in _ordered(table):
        item = {}
        for position, dim in enumerate(table.by):
            item[dim] = line(dim, cell.row if position == 0 else cell.column)
        item.update({"signatures": cell.value, "percent": cell.percent, "status": cell.status,
                     "note": tallies.status_text(cell.status, settings)})
        rows.append(item)
    columns = {dim: dimension_names[dim] for dim in table.by}
    columns.update({"signatures": _("Signatures"),
                    "percent": _("Share of the unit's estimated headcount (%)"),
                    "note": _("Note")})
    return {
        "audit_event": event_id,
        "campaign": campaign.slug,
        "petition": petition.slug,
        "release": {"id": release.public_id, "as_of": release.as_of.isoformat(),
                    "kind": release.kind, "published": bool(release.is_published)},
        "language": lang,
        "by": list(table.by),
        "period": period,
        "threshold": settings.get("threshold"),
        "rounding_base": settings.get("rounding_base"),
        "method": _("Counts are rounded to multiples of %(base)s. A figure is hidden when fewer "
                    "than %(k)s people signed, or fewer than %(k)s did not, or when it would "
                    "let a hidden figure be worked out.",
                    base=settings.get("rounding_base"), k=settings.get("threshold")),
        "columns": columns,
        "breakdown": rows,
        "series": {
            "columns": {"start": _("Week starting") if period == tallies.WEEK else _("Month"),
                        "count": _("New signatures"), "cumulative": _("Signatures in total")},
            "points": [{"start": _period_label(p.start, period), "count": p.count,
                        "cumulative": p.cumulative} for p in points],
        },
    }


def _period_label(start, period):
    return start.isoformat() if period == tallies.WEEK else start.strftime("%Y-%m")


def _ordered(table):
    """Cells line by line: each row's cells then its total, then the column totals, then all."""
    if len(table.by) < 2:
        return list(table.cells)
    index = {(c.row, c.column): c for c in table.cells}
    ordered = []
    for row in table.rows:
        ordered += [index[(row, col)] for col in table.columns if (row, col) in index]
        ordered.append(index[(row, None)])
    ordered += [index[(None, col)] for col in table.columns]
    ordered.append(index[(None, None)])
    return ordered


def _csv(document, *, french):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if french else ",", lineterminator="\r\n")

    def write(cells):
        writer.writerow([guard_cell(c) for c in cells])

    release = document["release"]
    write(["# " + _("Audit event: %(id)s", id=document["audit_event"])])
    write(["# " + _("Campaign: %(slug)s", slug=document["campaign"])])
    write(["# " + _("Petition: %(slug)s", slug=document["petition"])])
    write(["# " + _("Release: %(id)s, counts up to %(day)s", id=release["id"],
                    day=release["as_of"])])
    write(["# " + document["method"]])
    write([])
    columns = document["columns"]
    dims = document["by"]
    write([columns[d] for d in dims] + [columns["signatures"], columns["percent"],
                                        columns["note"]])
    for row in document["breakdown"]:
        write([row[d]["name"] for d in dims] + [row["signatures"], row["percent"], row["note"]])
    write([])
    series = document["series"]
    write([series["columns"]["start"], series["columns"]["count"],
           series["columns"]["cumulative"]])
    for point in series["points"]:
        write([point["start"], point["count"], point["cumulative"]])
    text = buffer.getvalue()
    return text.encode("utf-8-sig" if french else "utf-8")
