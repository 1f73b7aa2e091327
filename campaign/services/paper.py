"""Paper signatures entered by reps, one by one or as a labelled CSV batch. Flush, never commit.

A batch is validated whole before anything is stored: either every row lands or none does,
and the rep gets a row-by-row report. A paper signer who already signed (online or on paper) is
recorded as a shadow, exactly as online, so the rep learns nothing about who signed before.
"""

import csv
import io
from dataclasses import dataclass, field

from .. import audit, mail
from ..crypto import keyed_hash, normalize_identifier
from ..extensions import db
from ..models.consent import CHANNEL_PAPER, SIGNATURE_PURPOSES
from ..models.petitions import SOURCE_PAPER
from . import consent
from .signatures import SignerInput, _new_signature, signer_key, today

MAX_ROWS = 5000
COLUMNS = ("name", "email", "site", "department", *SIGNATURE_PURPOSES)
TRUE_WORDS = {"1", "x", "yes", "y", "oui", "o", "true", "vrai"}
FALSE_WORDS = {"", "0", "no", "n", "non", "false", "faux"}


class PaperError(ValueError):
    """Stable code for the view to translate."""


@dataclass
class RowProblem:
    row: int  # 1-based line number in the file, header included
    column: str
    code: str  # bad_bool, bad_site, bad_department, missing_name, bad_email, too_long, duplicate


@dataclass
class PaperRow:
    name: str
    email: str | None
    site_id: int | None
    department_id: int | None
    consents: dict = field(default_factory=dict)


def paper_key(petition, name, email, site_id, department_id):
    """De-duplication key: the address when the form has one, else name + site + department."""
    if email:
        return signer_key(petition, email)
    basis = f"{petition.public_id}\x00paper\x00{normalize_identifier(name)}\x00{site_id}\x00{department_id}"
    return keyed_hash(basis, purpose="signer")


def texts_for_version(version):
    """The consent texts of the paper form's version, for every signature purpose."""
    texts = {}
    for purpose in SIGNATURE_PURPOSES:
        text = consent.get_text(purpose, version)
        if text is None:
            raise PaperError("bad_version")
        texts[purpose] = text
    return texts


def _unit_lookup(campaign, kind):
    lookup = {}
    for unit in campaign.units:
        if unit.kind == kind and unit.is_active:
            for label in (unit.code, unit.name_fr, unit.name_en):
                if label:
                    lookup[normalize_identifier(label)] = unit.id
    return lookup


def _bool(value):
    word = normalize_identifier(value)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_batch(data, campaign):
    """Parse CSV bytes/text into rows; returns (rows, problems). Nothing is stored."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [RowProblem(0, "", "bad_encoding")]
    sample = data[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(data), delimiter=delimiter)
    header = [normalize_identifier(h) for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    if "name" not in header:
        return [], [RowProblem(1, "name", "missing_column")]
    sites, departments = _unit_lookup(campaign, "site"), _unit_lookup(campaign, "department")
    rows, problems, seen = [], [], set()
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            problems.append(RowProblem(number, "", "too_many_rows"))
            break
        if raw.get(None):  # more cells than columns
            problems.append(RowProblem(number, "", "extra_cells"))
        if not any((v or "").strip() for k, v in raw.items() if k):
            continue  # blank line
        name = (raw.get("name") or "").strip()
        email = (raw.get("email") or "").strip() or None
        if not name:
            problems.append(RowProblem(number, "name", "missing_name"))
        elif len(name) > 120:
            problems.append(RowProblem(number, "name", "too_long"))
        if email and ("@" not in email or len(email) > 254 or " " in email):
            problems.append(RowProblem(number, "email", "bad_email"))
        site_id = department_id = None
        if (raw.get("site") or "").strip():
            site_id = sites.get(normalize_identifier(raw["site"]))
            if site_id is None:
                problems.append(RowProblem(number, "site", "bad_site"))
        if (raw.get("department") or "").strip():
            department_id = departments.get(normalize_identifier(raw["department"]))
            if department_id is None:
                problems.append(RowProblem(number, "department", "bad_department"))
        consents = {}
        for purpose in SIGNATURE_PURPOSES:
            value = _bool(raw.get(purpose) or "")
            if value is None:
                problems.append(RowProblem(number, purpose, "bad_bool"))
            consents[purpose] = bool(value)
        identity_key = (normalize_identifier(email) if email else
                        (normalize_identifier(name), site_id, department_id))
        if name and identity_key in seen:
            problems.append(RowProblem(number, "email" if email else "name", "duplicate"))
        seen.add(identity_key)
        rows.append(PaperRow(name, email, site_id, department_id, consents))
    if not rows and not problems:
        problems.append(RowProblem(0, "", "empty"))
    return rows, problems


def enter(petition, rows, *, actor, version, links, batch_label=None):
    """Store paper signatures (all or none is the caller's transaction). Returns how many rows."""
    texts = texts_for_version(version)
    for row in rows:
        data = SignerInput(name=row.name, email=row.email, site_id=row.site_id,
                           department_id=row.department_id, consents=row.consents,
                           locale=None)
        key = paper_key(petition, row.name, row.email, row.site_id, row.department_id)
        _signature_id, token, repeated = _new_signature(
            petition, data, source=SOURCE_PAPER, channel=CHANNEL_PAPER, texts=texts, key=key,
            confirmed=True, batch_label=batch_label)
        if row.email:
            if repeated:
                mail.queue_template(row.email, "already_signed", locale=None, petition=petition,
                                    lost_link=links.lost())
            else:
                mail.queue_template(row.email, "private_link", locale=None, petition=petition,
                                    private_link=links.private(token))
    audit.record("paper_signatures_entered", actor=actor, target=petition,
                 campaign=petition.campaign,
                 details={"rows": len(rows), "label": batch_label or "", "version": version})
    db.session.flush()
    return len(rows)


__all__ = ["COLUMNS", "PaperError", "PaperRow", "RowProblem", "enter", "parse_batch", "today"]
