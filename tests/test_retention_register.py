"""The retention register (docs/retention.md) lists every table holding personal data, with its
retention rule, and stays in sync with the models.

A table holds personal data when one of its columns is binary (`LargeBinary`: everything the app
encrypts, and wrapped keys) or is marked in its model with a `#: PII` comment (the house
convention, STYLE.md); the register may list more (staff accounts, meeting notes...). Every table
must be classified, in one list or the other, so that a new table cannot slip through.
"""

import inspect
import re
from pathlib import Path

import pytest
from sqlalchemy import LargeBinary

from campaign.extensions import db

ROOT = Path(__file__).resolve().parent.parent
REGISTER = ROOT / "docs" / "retention.md"
PERSONAL = "## Tables holding personal data"
NOT_PERSONAL = "## Tables without personal data"
ROW = re.compile(r"^\|\s*`([a-z_][a-z0-9_]*)`\s*\|(.*)\|\s*$")


def section(text, heading):
    """{table: [cells]} of the table rows under `heading`, up to the next heading."""
    assert heading in text, f"{REGISTER.name} has no section {heading!r}"
    body = text.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        match = ROW.match(line.strip())
        if match:
            name = match.group(1)
            assert name not in rows, f"{name} is listed twice under {heading!r}"
            rows[name] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def marked_pii_columns(model):
    """Column names of `model` whose definition follows a `#: ... PII ...` comment."""
    source = inspect.getsource(model).splitlines()
    columns = []
    for number, line in enumerate(source):
        if line.strip().startswith("#:") and "PII" in line:
            for following in source[number + 1:]:
                stripped = following.strip()
                if stripped.startswith("#"):
                    continue  # the comment goes on
                match = re.match(r"([a-z_][a-z0-9_]*)\s*(?::[^=]*)?=\s*mapped_column", stripped)
                if match:
                    columns.append(match.group(1))
                break
    return columns


def personal_data_tables():
    """{table: why} for every table the models say holds personal data."""
    found = {}
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table
        if table is None:
            continue
        binary = [c.name for c in table.columns if isinstance(c.type, LargeBinary)]
        marked = marked_pii_columns(mapper.class_)
        if binary or marked:
            found[table.name] = {"binary": binary, "marked PII": marked}
    return found


@pytest.fixture(scope="module")
def register():
    text = REGISTER.read_text(encoding="utf-8")
    return section(text, PERSONAL), section(text, NOT_PERSONAL)


def test_the_models_are_seen(app):
    """The detection finds what is known to be there (so the tests below can fail)."""
    found = personal_data_tables()
    assert found["signatures"]["binary"] == ["name_ct", "email_ct"]
    assert "name_ct" in found["signatures"]["marked PII"]
    assert "text" in found["statements"]["marked PII"]
    assert "wrapped" in found["data_keys"]["binary"]


def test_a_queued_mail_keeps_its_address_in_its_message_only(app):
    """The outbox held a second encrypted copy of each recipient's address that nothing read;
    delivery takes the envelope from the message's own headers (mail._plain_envelope)."""
    assert personal_data_tables()["outbox"] == {"binary": ["message_ct"],
                                                "marked PII": ["message_ct"]}


def test_every_table_holding_personal_data_is_in_the_register(app, register):
    personal, not_personal = register
    found = personal_data_tables()
    missing = {name: why for name, why in found.items() if name not in personal}
    assert missing == {}, f"add these tables to {REGISTER.relative_to(ROOT)}: {missing}"
    wrongly_declared = sorted(set(found) & set(not_personal))
    assert wrongly_declared == [], f"hold personal data: {wrongly_declared}"


def test_the_register_names_only_tables_that_exist(app, register):
    personal, not_personal = register
    tables = set(db.metadata.tables)
    assert sorted(set(personal) - tables) == []
    assert sorted(set(not_personal) - tables) == []


def test_every_table_is_classified_once(app, register):
    personal, not_personal = register
    tables = set(db.metadata.tables)
    assert sorted(tables - set(personal) - set(not_personal)) == [], (
        f"classify these tables in {REGISTER.relative_to(ROOT)}")
    assert sorted(set(personal) & set(not_personal)) == []


def test_every_personal_data_table_has_a_retention_rule_and_an_enforcer(register):
    personal, _not_personal = register
    assert personal, "no table listed"
    for name, cells in personal.items():
        assert len(cells) == 3, f"{name}: expected personal data | retention | enforced by"
        what, retention, enforced = cells
        assert len(what) > 10 and len(retention) > 10 and len(enforced) > 5, name
        assert "TODO" not in retention.upper(), name
