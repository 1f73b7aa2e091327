"""Anonymized tallies of a petition: one SQL aggregation, small-cell suppression, a release ledger.

THE tally function is `compute()`: pages, exports, the CLI, the demo and the benchmark all reach
the counts through it. It runs ONE aggregate query over the covering index `ix_signatures_tally`::

    SELECT confirmed_on, withdrawn_on, site_id, department_id, count(*) FROM signatures
    WHERE petition_id = ? AND is_shadow = false
    GROUP BY confirmed_on, withdrawn_on, site_id, department_id

and keeps the groups that are counted (confirmed, not withdrawn: `count_rows` says why these
two conditions apply to the groups). No signature is ever loaded as an object. The few tens of
thousands of groups are folded into a site x department table and a per-day series, and the
table goes to `suppression.tabulate`. The series is dated by the day a signature started to
count (`confirmed_on`: the signing day when no confirmation is asked): that column is in the
index, `signed_on` is not, and the series then adds up to the count at every date.

Releases. What staff and the public see of the breakdown are snapshots, never live figures: a
live breakdown looked at twice would show "+1 in this team at 10:02". A release is taken on a
schedule (`flask tallies release`, cron) or on demand by an organizer (at most once per refresh
interval of the petition's public count), checked with `suppression.check_against_previous`
against every earlier release of its series, and kept in the ledger (`TallyRelease`): public
document in clear, true counts encrypted. A release the check refuses is kept as deferred, with
its reason. A withdrawal changes the next snapshot (the withdrawn signature is no longer
counted, and if fewer than k signatures changed the next release is deferred), never a release
already taken: history is not rewritten.

Series. Releases are compared entry by entry, so they must share their lines. When the
campaign's units change (a unit added, a headcount crossing the minimum size) the next release is
deferred (`structure_changed`) until an organizer explicitly starts a new series; the first
release of a new series is still refused when the total moved by 1 to k-1 since any earlier
release, but is otherwise checked on its own (see the limits in `suppression`).

Breakdown lines: every unit of the campaign of that kind (inactive ones too, so deactivating one
does not change the table), plus "not stated" for signers who preferred not to say. The table
has the dimensions the petition asks for: site x department when it asks both, so the breakdowns
by site and by department are the margins of one checked table (two separate tables would let
one recompute what the other hides).

Published counts are rounded to multiples of 5 (`suppression.round_to_base`); margins are rounded
from the true counts, so they need not equal the sum of the cells shown.
"""

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import false, func, select

from .. import audit
from ..crypto import aad_for, keyring, new_public_id
from ..extensions import db
from ..models import Petition, PetitionSnapshot, Signature, TallyRelease
from ..models.base import utcnow
from ..models.campaigns import UNIT_DEPARTMENT, UNIT_SITE
from ..models.tallies import RELEASE_KINDS, RELEASE_ON_DEMAND, RELEASE_SCHEDULED
from . import suppression

SITE = UNIT_SITE
DEPARTMENT = UNIT_DEPARTMENT
DIMENSIONS = (SITE, DEPARTMENT)
WEEK, MONTH = "week", "month"
PERIODS = (WEEK, MONTH)

#: line of the signers who preferred not to give their site / department (unit codes cannot
#: contain "_", so it never collides with a unit)
NOT_STATED = "__none__"
#: the single line of a petition broken down by nothing (its one cell is the total)
ALL = "__all__"
OTHER = suppression.OTHER_KEY

DEFAULT_MIN_UNIT_SIZE = suppression.DEFAULT_MIN_UNIT_SIZE
DEFAULT_MIN_TOTAL = suppression.DEFAULT_MIN_TOTAL
ROUNDING_BASE = suppression.DEFAULT_ROUNDING_BASE

PUBLISHED = "published"
DEFER_TOO_SOON = "too_soon"
DEFER_UNCHANGED = "unchanged"
DOCUMENT_FORMAT = 1
TABLE = "tally_releases"


class TallyError(ValueError):
    """A rule about tallies was broken; the message is a stable code for the view to translate."""


# --- the one tally function ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """A petition's counts right now: the checked table and the per-day series (not published)."""

    petition_id: int
    dimensions: tuple
    as_of: date
    #: `suppression.Release` of one table (its true counts are private to it)
    table: suppression.Release
    #: ((day, counted signatures that started to count that day), ...), days in order
    daily: tuple

    @property
    def true_total(self):
        return sum(n for _day, n in self.daily)


def petition_dimensions(petition):
    """The dimensions the petition's table has: those it asks for that the campaign has units of."""
    kinds = {u.kind for u in petition.campaign.units}
    dims = []
    if petition.ask_site and SITE in kinds:
        dims.append(SITE)
    if petition.ask_department and DEPARTMENT in kinds:
        dims.append(DEPARTMENT)
    return tuple(dims)


def parse_dimensions(value):
    """"site,department" -> ("site", "department"); TallyError on anything else."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    dims = tuple(value or ())
    if len(set(dims)) != len(dims) or any(d not in DIMENSIONS for d in dims):
        raise TallyError("bad_dimensions")
    return tuple(d for d in DIMENSIONS if d in dims)


def _settings(campaign):
    config = current_app.config
    return {
        "threshold": campaign.tally_threshold,
        "min_unit_size": int(config.get("TALLY_MIN_UNIT_SIZE", DEFAULT_MIN_UNIT_SIZE)),
        "min_total": int(config.get("TALLY_MIN_TOTAL", DEFAULT_MIN_TOTAL)),
        "rounding_base": ROUNDING_BASE,
    }


def _lines(campaign, kind):
    """(lines, unit id -> line key) for one dimension."""
    units = sorted((u for u in campaign.units if u.kind == kind), key=lambda u: (u.position, u.id))
    lines = [suppression.Line(u.code, u.code,
                              u.headcount if u.headcount is not None and u.headcount >= 0 else None)
             for u in units]
    lines.append(suppression.Line(NOT_STATED, NOT_STATED, None))
    return lines, {u.id: u.code for u in units}


def count_rows(petition):
    """The aggregate query: (site_id, department_id, confirmed_on, n) of counted signatures.

    Counted = `signatures.counted_clause()`: not a shadow, confirmed, not withdrawn. The query
    groups in the order of the covering index ix_signatures_tally (petition_id, is_shadow,
    confirmed_on, withdrawn_on, site_id, department_id) and keeps the two date conditions for the
    groups: SQLite then aggregates while it reads the index, where a range condition on
    confirmed_on in WHERE would make it sort every row first (three times slower on 500,000
    signatures); PostgreSQL hashes either way. Withdrawn signatures add a few groups, no more.
    """
    stmt = (
        select(Signature.confirmed_on, Signature.withdrawn_on, Signature.site_id,
               Signature.department_id, func.count())
        .where(Signature.petition_id == petition.id, Signature.is_shadow == false())
        .group_by(Signature.confirmed_on, Signature.withdrawn_on, Signature.site_id,
                  Signature.department_id)
    )
    return [(site_id, department_id, confirmed_on, n)
            for confirmed_on, withdrawn_on, site_id, department_id, n
            in db.session.connection().execute(stmt)
            if confirmed_on is not None and withdrawn_on is None]


def compute(petition, dimensions=None):
    """THE tally: counts of the petition's counted signatures, checked for small cells."""
    campaign = petition.campaign
    dims = petition_dimensions(petition) if dimensions is None else parse_dimensions(dimensions)
    if dims:
        first_lines, first_key = _lines(campaign, dims[0])
    else:
        first_lines, first_key = [suppression.Line(ALL, ALL, None)], {}
    second_lines, second_key = _lines(campaign, dims[1]) if len(dims) == 2 else (None, {})
    column_of = {SITE: 0, DEPARTMENT: 1}

    counts = defaultdict(int)
    daily = defaultdict(int)
    for site_id, department_id, day, n in count_rows(petition):
        daily[day] += n
        ids = (site_id, department_id)
        row = first_key.get(ids[column_of[dims[0]]], NOT_STATED) if dims else ALL
        if second_lines is None:
            counts[row] += n
        else:
            counts[(row, second_key.get(ids[column_of[dims[1]]], NOT_STATED))] += n
    table = suppression.tabulate(dict(counts), first_lines, second_lines, **_settings(campaign))
    return Tally(petition.id, dims, utcnow().date(), table, tuple(sorted(daily.items())))


# --- series ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    start: date
    count: int
    cumulative: int


def period_start(day, period):
    if period == WEEK:
        return day - timedelta(days=day.weekday())
    if period == MONTH:
        return day.replace(day=1)
    raise TallyError("bad_period")


def _next_start(start, period):
    if period == WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def series(daily, period, until=None):
    """Signatures per week or month, every period from the first signature to `until` included."""
    if period not in PERIODS:
        raise TallyError("bad_period")
    if not daily:
        return []
    buckets = defaultdict(int)
    for day, n in daily:
        buckets[period_start(day, period)] += n
    start = min(buckets)
    last = max(max(buckets), period_start(until, period)) if until else max(buckets)
    points, total = [], 0
    while start <= last:
        total += buckets.get(start, 0)
        points.append(SeriesPoint(start, buckets.get(start, 0), total))
        start = _next_start(start, period)
    return points


# --- the release ledger ---------------------------------------------------------------------------


def _ledger_aad(release):
    return aad_for(TABLE, "ledger", release.public_id)


def read_ledger(release):
    """The release's TRUE counts (server side only: never to a page, an export or a log)."""
    if release.ledger_ct is None:
        return None
    return json.loads(keyring().decrypt(release.ledger_ct, _ledger_aad(release)))


def releases(petition, *, include_deferred=True):
    """The petition's ledger, oldest first."""
    stmt = select(TallyRelease).where(TallyRelease.petition_id == petition.id)
    if not include_deferred:
        stmt = stmt.where(TallyRelease.is_deferred.is_(False))
    stmt = stmt.order_by(TallyRelease.created_at, TallyRelease.id)
    return db.session.execute(stmt).scalars().all()


def latest_release(petition, *, published_only=False):
    stmt = select(TallyRelease).where(TallyRelease.petition_id == petition.id,
                                      TallyRelease.is_deferred.is_(False))
    if published_only:
        stmt = stmt.where(TallyRelease.is_published.is_(True))
    return db.session.execute(
        stmt.order_by(TallyRelease.created_at.desc(), TallyRelease.id.desc()).limit(1)
    ).scalar_one_or_none()


def get_release(petition, public_id):
    if not public_id:
        return None
    return db.session.execute(
        select(TallyRelease).where(TallyRelease.petition_id == petition.id,
                                   TallyRelease.public_id == public_id)
    ).scalar_one_or_none()


def _true_counts(ledger_table):
    return {(e["kind"], e["row"], e["column"]): e["count"] for e in ledger_table["entries"]}


@dataclass(frozen=True)
class Outcome:
    """What taking a release did: `release` is None when nothing was stored (unchanged)."""

    release: TallyRelease | None
    result: str  # "released", "deferred", "unchanged"
    reason: str | None = None


def take_release(petition, *, kind, actor=None, new_series=False, now=None, tally=None):
    """Snapshot the petition's tally into the ledger, checked against its earlier releases.

    On demand: refused (TallyError "too_soon") within the petition's refresh interval of the
    previous release, so releases tell no more about timing than the batched public count.
    Scheduled: nothing is stored when no count changed since the latest release of the series.
    `tally`: a `compute(petition)` made just before, outside the write transaction (so SQLite's
    write lock is not held while the signatures are counted); the ledger is read here, under it.
    Flushes and audits, never commits.
    """
    if kind not in RELEASE_KINDS:
        raise TallyError("bad_kind")
    now = now or utcnow()
    ledger = releases(petition)
    if kind == RELEASE_ON_DEMAND and ledger:
        interval = timedelta(minutes=max(1, petition.refresh_minutes or 1))
        if now - ledger[-1].created_at < interval:
            raise TallyError(DEFER_TOO_SOON)

    if tally is None or tally.petition_id != petition.id:
        tally = compute(petition)
    done = [r for r in ledger if not r.is_deferred]
    earlier = [(r, read_ledger(r)) for r in done]
    # the current series is that of the latest release taken (a deferred attempt starts none)
    series_no = max((r.series for r in done), default=1)
    same_series = [(r, doc) for r, doc in earlier if r.series == series_no]

    if kind == RELEASE_SCHEDULED and same_series:
        doc = same_series[-1][1]
        if (_true_counts(doc["table"]) == _true_counts(tally.table.to_ledger())
                and doc["daily"] == _daily_doc(tally.daily)):
            _audit(petition, None, kind, actor, DEFER_UNCHANGED, None)
            return Outcome(None, DEFER_UNCHANGED)

    previous = [suppression.Release.from_ledger(doc["table"]) for _r, doc in same_series]
    checked = suppression.check_against_previous(tally.table, previous)
    defer_reason = checked.defer_reason if checked.deferred else None
    if defer_reason == suppression.DEFER_STRUCTURE_CHANGED and new_series:
        # The units changed and an organizer chose to start again. Tables of different lines
        # cannot be compared entry by entry; their totals can, against every earlier release.
        k = max([tally.table.threshold] + [doc["table"]["threshold"] for _r, doc in earlier])
        if any(0 < abs(tally.true_total - doc["total"]) < k for _r, doc in earlier):
            defer_reason = suppression.DEFER_TOTAL_DIFFERENCE
        else:
            checked, defer_reason, series_no = tally.table, None, series_no + 1

    release = TallyRelease(public_id=new_public_id(), petition_id=petition.id, series=series_no,
                           kind=kind, dimensions=",".join(tally.dimensions), created_at=now,
                           as_of=tally.as_of, is_deferred=defer_reason is not None,
                           defer_reason=defer_reason, is_published=False)
    release.petition = petition
    db.session.add(release)
    if defer_reason is None:
        document = {"format": DOCUMENT_FORMAT, "table": checked.to_ledger(),
                    "daily": _daily_doc(tally.daily), "total": tally.true_total}
        release.ledger_ct = keyring().encrypt(json.dumps(document, separators=(",", ":")),
                                              _ledger_aad(release))
        release.public_data = {
            "format": DOCUMENT_FORMAT,
            "dimensions": list(tally.dimensions),
            "as_of": tally.as_of.isoformat(),
            "table": checked.to_dict(),
            "settings": {"threshold": checked.threshold, "min_unit_size": checked.min_unit_size,
                         "min_total": checked.min_total, "rounding_base": checked.rounding_base},
            "total": suppression.round_to_base(tally.true_total, ROUNDING_BASE),
            # totals per day, no breakdown: no finer than the public count itself
            "daily": _daily_doc(tally.daily),
        }
    db.session.flush()
    result = "deferred" if release.is_deferred else "released"
    _audit(petition, release, kind, actor, result, release.defer_reason)
    return Outcome(release, result, release.defer_reason)


def _daily_doc(daily):
    return [[day.isoformat(), n] for day, n in daily]


def _audit(petition, release, kind, actor, result, reason):
    audit.record("tally_release_taken", actor=actor, target_type=TABLE,
                 target_id=release.public_id if release is not None else None,
                 campaign=petition.campaign,
                 details={"petition": petition.slug, "kind": kind, "result": result,
                          "reason": reason})


def publish(release, *, actor):
    """Make a release the public breakdown (an organizer's decision). Flushes, never commits."""
    if release.is_deferred:
        raise TallyError("deferred")
    if release.is_published:
        return False
    release.is_published = True
    release.published_at = utcnow()
    db.session.flush()
    audit.record("tally_release_published", actor=actor, target_type=TABLE,
                 target_id=release.public_id, campaign=release.petition.campaign,
                 details={"petition": release.petition.slug})
    return True


def release_due_petitions():
    """Petitions the scheduled release covers: open or closed ones of public campaigns."""
    from ..models import Campaign
    from ..models.campaigns import PUBLIC_STATUSES
    from ..models.petitions import PETITION_CLOSED, PETITION_OPEN

    return db.session.execute(
        select(Petition).join(Campaign, Campaign.id == Petition.campaign_id)
        .where(Petition.status.in_((PETITION_OPEN, PETITION_CLOSED)),
               Campaign.status.in_(PUBLIC_STATUSES))
        .order_by(Petition.id)
    ).scalars().all()


# --- what a release shows (pages, exports and the public summary read these) ----------------------


@dataclass(frozen=True)
class Cell:
    """One published figure or the reason it is hidden; never a true count."""

    row: str | None  # line key in the first dimension asked, None for a total over it
    column: str | None  # line key in the second dimension asked, None for a total over it
    value: int | None
    status: str  # "published", or a public reason: "suppressed", "other", "below_minimum_total"
    percent: int | None = None

    @property
    def is_published(self):
        return self.value is not None


@dataclass(frozen=True)
class Breakdown:
    """A release seen by the dimensions asked (`by`): the lines and every cell, totals last."""

    by: tuple
    rows: tuple  # line keys of the first dimension (merged units last, then nothing)
    columns: tuple  # line keys of the second dimension, () in one dimension
    cells: tuple

    def get(self, row=None, column=None):
        for cell in self.cells:
            if cell.row == row and cell.column == column:
                return cell
        raise KeyError((row, column))


def _entry_cell(entry, row, column):
    status = PUBLISHED if entry["value"] is not None else entry["reason"]
    return Cell(row, column, entry["value"], status, entry["percent"])


def breakdown(release, by):
    """The release's published table by `by` (a subset of its dimensions)."""
    by = parse_dimensions(by)
    dims = release.dimension_list
    if any(d not in dims for d in by):
        raise TallyError("bad_dimensions")
    table = release.public_data["table"]
    entries = {(e["kind"], e["row"], e["column"]): e for e in table["entries"]}
    rows = [line["key"] for line in table["rows"]]
    merged_rows = [line["key"] for line in table["merged_rows"]]
    columns = [line["key"] for line in table["columns"] or ()]
    merged_columns = [line["key"] for line in table["merged_columns"]]
    two_d = len(dims) == 2
    total = _entry_cell(entries[(suppression.TOTAL, None, None)], None, None)

    if not by:
        return Breakdown(by, (), (), (total,))
    if len(by) == 2:
        cells = [_entry_cell(entries[(suppression.CELL, r, c)], r, c)
                 for r in rows for c in columns]
        cells += [_entry_cell(entries[(suppression.ROW_TOTAL, r, None)], r, None)
                  for r in rows + merged_rows]
        cells += [_entry_cell(entries[(suppression.COLUMN_TOTAL, None, c)], None, c)
                  for c in columns + merged_columns]
        cells.append(total)
        return Breakdown(by, tuple(rows + merged_rows), tuple(columns + merged_columns),
                         tuple(cells))
    # one dimension asked: the line totals of that dimension
    if by[0] == dims[0]:
        kind = suppression.ROW_TOTAL if two_d else suppression.CELL
        keys = rows + merged_rows
        cells = [_entry_cell(entries[(kind, r, None)], r, None) for r in keys]
    else:
        keys = columns + merged_columns
        cells = [_entry_cell(entries[(suppression.COLUMN_TOTAL, None, c)], c, None)
                 for c in keys]
    return Breakdown(by, tuple(keys), (), tuple(cells) + (total,))


def release_series(release, period):
    """The release's signatures per week or month (totals only), up to its `as_of` day."""
    daily = [(date.fromisoformat(d), n) for d, n in release.public_data.get("daily", ())]
    return series(daily, period, until=release.as_of)


def line_labels(campaign, locale=None):
    """(kind, key) -> label in the current language, for every line a release may hold."""
    from ..i18n import localized

    labels = {}
    for unit in campaign.units:
        labels[(unit.kind, unit.code)] = localized(unit, "name", locale).text or unit.code
    for kind in DIMENSIONS:
        labels[(kind, NOT_STATED)] = _("Not stated")
        labels[(kind, OTHER)] = _("Other (small units combined)")
    return labels


def status_text(status, settings=None):
    """What a page or an export says about a cell: why it is hidden, never which rule hid it."""
    settings = settings or {}
    if status == PUBLISHED:
        return ""
    if status == suppression.SUPPRESSED:
        return _("hidden to protect people (too few signers, or too few non-signers, here "
                 "or in a figure it could be worked out from)")
    if status == suppression.OTHER:
        return _("counted under “%(other)s”: the unit is smaller than %(n)s people",
                 other=_("Other (small units combined)"),
                 n=settings.get("min_unit_size", DEFAULT_MIN_UNIT_SIZE))
    if status == suppression.BELOW_MINIMUM_TOTAL:
        return _("not broken down until the petition has %(n)s signatures",
                 n=settings.get("min_total", DEFAULT_MIN_TOTAL))
    return _("hidden")


def public_summary(campaign):
    """For the public campaign page: each public petition, its batched public count, and its
    latest published release (or None)."""
    from .. import access

    items = []
    for petition in sorted(campaign.petitions, key=lambda p: p.id):
        if not access.can_view_public_petition(petition):
            continue
        snapshot = db.session.get(PetitionSnapshot, petition.id)
        release = latest_release(petition, published_only=True)
        if release is not None and not access.can_view_public_tally(release):
            release = None
        items.append({"petition": petition, "count": snapshot.count if snapshot else None,
                      "release": release})
    return items
