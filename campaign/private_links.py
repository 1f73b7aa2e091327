"""Private links: how a signer or an author reaches their own data without an account.

A link carries a 256-bit token whose SHA-256 is stored on the record (a signature, a statement).
On first use it is exchanged for a short session naming that one record, and the browser is sent
to an address without the token. Each kind of record registers how to find it by token hash and
which page shows it; `/s/<token>` serves them all.
"""

import json
import time
from dataclasses import dataclass

from flask import make_response, session

from .crypto import token_hash

SESSION_KIND = "holder_kind"
SESSION_ID = "holder_id"
SESSION_EXPIRES = "holder_exp"
SESSION_SECONDS = 30 * 60


@dataclass(frozen=True)
class Kind:
    name: str
    find_by_hash: object  # token_hash -> record or None
    find_by_public_id: object  # public_id -> record or None
    endpoint: str  # the private page


_KINDS = {}


def register(name, *, find_by_hash, find_by_public_id, endpoint):
    _KINDS[name] = Kind(name, find_by_hash, find_by_public_id, endpoint)


def resolve(raw):
    """(kind, record) for a raw token, or (None, None)."""
    if not raw:
        return None, None
    digest = token_hash(raw)
    for kind in _KINDS.values():
        record = kind.find_by_hash(digest)
        if record is not None:
            return kind, record
    return None, None


def start(kind, record):
    session[SESSION_KIND] = kind.name
    session[SESSION_ID] = record.public_id
    session[SESSION_EXPIRES] = int(time.time()) + SESSION_SECONDS


def end():
    for key in (SESSION_KIND, SESSION_ID, SESSION_EXPIRES):
        session.pop(key, None)


def held(kind_name):
    """The record of `kind_name` this browser holds a live private-link session for, or None."""
    if session.get(SESSION_KIND) != kind_name or session.get(SESSION_EXPIRES, 0) < time.time():
        return None
    kind = _KINDS.get(kind_name)
    return kind.find_by_public_id(session.get(SESSION_ID)) if kind else None


def own_data_download(payload, filename):
    """What is stored about the holder, as a JSON file to keep (the private page's download)."""
    response = make_response(json.dumps(payload, ensure_ascii=False, indent=2))
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
