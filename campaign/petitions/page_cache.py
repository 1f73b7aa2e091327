"""The rendered petition page for visitors, reused while nothing it shows has changed.

Rendering the page (the form above all) costs several times the query that feeds it, and most
visitors see exactly the same page. So every request still reads everything fresh from the
database (campaign, petition, units, the public snapshot, which consent texts are current, and
which of the snapshot's signers still consent to show their name), and the HTML is rendered
again only when one of those values differs from the last render of that page, in this worker.
The cache holds the output of a pure function of its key: nothing is invalidated by hand, so no
forgotten invalidation can show a withdrawn name or a stale count.

A visitor's view reads those values as plain rows (`read`: no ORM object is built unless the
page is rendered); a render takes the same key from the objects it rendered (`key_of`). Both are
the rows' column values in table order, so they are equal exactly when the values are.

What the template reads from the request is part of the key (language, path, host) or makes the
page uncacheable (a query string; a signed-in account: staff navigation; flashed messages). The
CSRF token, the one value that differs per visitor, is stored as a placeholder and put back on
every response. A newer render of a petition replaces every older one, so a withdrawn name
leaves this worker's memory at the next view of the page.
"""

import threading
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass

from flask import current_app, render_template, request, session
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from sqlalchemy import bindparam, select

from .. import access
from ..database import row, transient
from ..extensions import db
from ..i18n import current_locale
from ..models import Campaign, Petition, PetitionSnapshot, Unit
from ..services import consent, signatures
from ..sessions import signed_in

#: stands for the visitor's CSRF token in a stored page; cannot occur in rendered text
#: (a NUL never reaches a page: forms refuse it and Jinja output is text from the database
#: and the catalogs)
PLACEHOLDER = "\x00csrf\x00"
MAX_ENTRIES = 64

_lock = threading.Lock()


def _entries():
    """This app's entries: (petition id, language, path, host) -> (fingerprint, html)."""
    return current_app.extensions.setdefault("campaign_page_cache", OrderedDict())


def applies(method="GET"):
    """Whether this request may be served from, and stored in, the cache."""
    if not current_app.config.get("PETITION_PAGE_CACHE", True) or current_app.debug:
        return False
    if request.method != method or request.query_string or signed_in():
        return False
    return "_flashes" not in session


def fingerprint(*, campaign, petition, latest_text_id, units, snapshot, names, is_open):
    """Everything the page shows, as one comparable value: the column values of the campaign,
    the petition, each unit (by id) and the snapshot; which consent texts are current (they are
    only ever added, so the highest id names the set); `names`, the (public id, sealed name) of
    each signature whose name is shown (the sealed name stands for the name, decrypted only to
    render; nothing else about them, not even encrypted, is kept); and whether it is open."""
    return (campaign, petition, latest_text_id, tuple(units), snapshot, tuple(names), is_open)


def key_of(found, latest_text_id, snapshot, name_rows, is_open):
    """The fingerprint of a page rendered from loaded objects."""
    campaign = found.campaign
    return fingerprint(
        campaign=row(campaign), petition=row(found), latest_text_id=latest_text_id,
        units=[row(unit) for unit in sorted(campaign.units, key=lambda unit: unit.id)],
        snapshot=row(snapshot),
        names=[(signature.public_id, signature.name_ct) for signature in name_rows],
        is_open=is_open)


_P, _C, _S, _U = (model.__table__ for model in (Petition, Campaign, PetitionSnapshot, Unit))

#: the same values as plain rows, one per unit, in one query: a visitor's view of a page
#: already rendered builds no ORM object
_PAGE_ROWS = (
    select(_P, _C, _S, consent.LATEST_TEXT_ID, _U)
    .select_from(_P.join(_C, _P.c.campaign_id == _C.c.id)
                 .outerjoin(_S, _S.c.petition_id == _P.c.id)
                 .outerjoin(_U, _U.c.campaign_id == _C.c.id))
    .where(_C.c.slug == bindparam("slug"), _P.c.slug == bindparam("petition_slug"))
    .order_by(_U.c.id)
)


@dataclass(frozen=True)
class Seen:
    """A petition page as read for a visitor: its petition's id and its fingerprint."""

    petition_id: int
    key: tuple


def read(slug, petition_slug):
    """The fingerprint of a petition's page read from plain rows, or None when the page must
    take the full way (no such petition, or not public: the 404 is the view's; the public
    count due for a refresh). The same decisions as the full way, by the same functions, on
    transient copies of the rows."""
    with _reading() as connection:
        rows = connection.execute(
            _PAGE_ROWS, {"slug": slug, "petition_slug": petition_slug}).all()
        return _seen(connection, rows)


def _reading():
    """Where the page's rows are read. On PostgreSQL, a connection of its own in autocommit,
    outside the request's session: no BEGIN and ROLLBACK round trips. The names are then read
    in a snapshot no older than the rows', so a key may mix two moments a request apart. That
    is harmless: a stored page is served only when its key, taken from ONE consistent render,
    equals the key read, so what is served is exactly the page of those rows and those names.
    On SQLite (in the process, no round trip to save; in tests one shared in-memory connection)
    the session's own connection."""
    if db.engine.dialect.name == "postgresql":
        return db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return nullcontext(db.session.connection())


#: where the petition, campaign, snapshot, latest text id and unit columns start in a row of
#: _PAGE_ROWS
_BOUNDS = (0, len(_P.columns), len(_P.columns) + len(_C.columns),
           len(_P.columns) + len(_C.columns) + len(_S.columns),
           len(_P.columns) + len(_C.columns) + len(_S.columns) + 1)


def _seen(connection, rows):
    if not rows:
        return None
    first = tuple(rows[0])
    petition_values, campaign_values, snapshot_values, (latest_text_id,) = (
        first[start:end] for start, end in zip(_BOUNDS, _BOUNDS[1:], strict=False))
    units = [tuple(r)[_BOUNDS[-1]:] for r in rows]
    units = [unit for unit in units if unit[0] is not None]
    if snapshot_values[0] is None:  # no snapshot yet: the full way takes the first
        return None
    found = transient(Petition, petition_values)
    found.__dict__["campaign"] = transient(Campaign, campaign_values)
    snapshot = transient(PetitionSnapshot, snapshot_values)
    if not access.can_view_public_petition(found) or signatures.snapshot_is_stale(found, snapshot):
        return None
    return Seen(found.id, fingerprint(
        campaign=campaign_values, petition=petition_values, latest_text_id=latest_text_id,
        units=units, snapshot=snapshot_values,
        names=signatures.public_name_keys(snapshot, connection=connection),
        is_open=signatures.petition_is_open(found)))


def _slot(petition_id):
    return (petition_id, current_locale(), request.path, request.host)


def get(petition_id, key):
    """The stored page with this visitor's CSRF token, or None."""
    slot, entries = _slot(petition_id), _entries()
    with _lock:
        entry = entries.get(slot)
        if entry is None or entry[0] != key:
            return None
        entries.move_to_end(slot)
        html = entry[1]
    return html.replace(PLACEHOLDER, generate_csrf())


def put(petition_id, key, html):
    """Store a freshly rendered page (rendered for this request, so holding its CSRF token)."""
    token = generate_csrf()
    if PLACEHOLDER in html or html.count(token) != 1:
        return  # not the page this module knows how to reuse: never store it
    slot, entries = _slot(petition_id), _entries()
    with _lock:
        # Older renders of this petition (other language or host) go too: what changed may be
        # a withdrawn name, which then stays nowhere in memory.
        for other in [s for s, (k, _html) in entries.items() if s[0] == petition_id and k != key]:
            del entries[other]
        _remember(entries, slot, (key, html.replace(token, PLACEHOLDER)))


def _remember(entries, slot, value):
    """Store `value` as the newest entry, dropping the oldest beyond MAX_ENTRIES (under _lock)."""
    entries[slot] = value
    entries.move_to_end(slot)
    while len(entries) > MAX_ENTRIES:
        entries.popitem(last=False)


#: stands for the signer's private link in the stored thank-you page
LINK = "\x00link\x00"


def thank_you(petition, link, *, needs_confirmation):
    """The page a signer sees after signing. It differs from one signer to the next only by the
    private link, so it is rendered once per petition title, language, path and host, with a
    placeholder where the link goes, and the signer's link (escaped) is put in its place."""
    context = {"petition": petition, "campaign": petition.campaign,
               "needs_confirmation": needs_confirmation}
    if not applies("POST"):
        return render_template("petitions/signed.html", link=link, **context)
    slot = (petition.id, petition.title_en, petition.title_fr,
            petition.campaign.slug, needs_confirmation, current_locale(), request.path,
            request.host)
    entries = current_app.extensions.setdefault("campaign_thank_you_pages", OrderedDict())
    with _lock:
        html = entries.get(slot)
    if html is None:
        html = render_template("petitions/signed.html", link=LINK, **context)
        if html.count(LINK) != 2:  # not the page this knows how to fill: never store it
            return render_template("petitions/signed.html", link=link, **context)
        with _lock:
            _remember(entries, slot, html)
    return html.replace(LINK, str(escape(link)))


def stored_pages():
    """What this worker holds (for tests)."""
    with _lock:
        return [html for _key, html in _entries().values()]
