"""The rendered petition page for visitors, reused while nothing it shows has changed.

Rendering the page (the form above all) costs several times the query that feeds it, and most
visitors see exactly the same page. So every request still reads everything fresh from the
database (campaign, petition, units, the public snapshot, which consent texts are current, and
which of the snapshot's signers still consent to show their name), and the HTML is rendered
again only when one of those values differs from the last render of that page, in this worker.
The cache holds the output of a pure function of its key: nothing is invalidated by hand, so no
forgotten invalidation can show a withdrawn name or a stale count.

What the template reads from the request is part of the key (language, path, host) or makes the
page uncacheable (a query string; a signed-in account: staff navigation; flashed messages). The
CSRF token, the one value that differs per visitor, is stored as a placeholder and put back on
every response. A newer render of a petition replaces every older one, so a withdrawn name
leaves this worker's memory at the next view of the page.
"""

import threading
from collections import OrderedDict

from flask import current_app, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import inspect

from ..i18n import current_locale

#: stands for the visitor's CSRF token in a stored page; cannot occur in rendered text
#: (a NUL never reaches a page: forms refuse it and Jinja output is text from the database
#: and the catalogs)
PLACEHOLDER = "\x00csrf\x00"
MAX_ENTRIES = 64

_lock = threading.Lock()


def _entries():
    """This app's entries: (petition id, language, path, host) -> (fingerprint, html)."""
    return current_app.extensions.setdefault("campaign_page_cache", OrderedDict())


def applies():
    """Whether this request may be served from, and stored in, the cache."""
    if not current_app.config.get("PETITION_PAGE_CACHE", True) or current_app.debug:
        return False
    if request.method != "GET" or request.query_string or current_user.is_authenticated:
        return False
    return "_flashes" not in session


def row(obj):
    """Every column value of a loaded row, in mapper order (None stands for a missing row)."""
    if obj is None:
        return None
    return tuple(getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs)


def fingerprint(*, campaign, petition, texts, units, snapshot, name_rows, is_open):
    """Everything the page shows, as one hashable value. `name_rows` are the signatures whose
    names are shown (their sealed names stand for the names, decrypted only to render; nothing
    else about them, not even encrypted, is kept)."""
    return (
        row(campaign),
        row(petition),
        tuple(sorted((purpose, row(text)) for purpose, text in texts.items())),
        tuple(row(unit) for unit in units),
        row(snapshot),
        # what decides a shown name: which signature, and its sealed name (erased: None)
        tuple((signature.public_id, signature.name_ct) for signature in name_rows),
        is_open,
    )


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
        entries[slot] = (key, html.replace(token, PLACEHOLDER))
        entries.move_to_end(slot)
        while len(entries) > MAX_ENTRIES:
            entries.popitem(last=False)


def stored_pages():
    """What this worker holds (for tests)."""
    with _lock:
        return [html for _key, html in _entries().values()]
