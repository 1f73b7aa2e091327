"""Migrations are reviewed code: `flask db upgrade` on an empty database builds exactly the models'
schema, every revision goes down and up again, and the files follow the house rules.

Runs on whichever database the suite uses (SQLite file, or PostgreSQL with
CAMPAIGN_TEST_DATABASE_URL). The app here is created WITHOUT db.create_all: only the revisions
build the schema.
"""

import os
import re
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import MetaData, func, inspect, select, text

import campaign
from campaign import create_app
from campaign.extensions import db

ROOT = Path(campaign.__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"
VERSIONS = MIGRATIONS / "versions"
DATED_NAME = re.compile(r"^(\d{8})_([0-9a-f]+)_\w*\.py$")
DRIFT = "the migrations differ from the models: `flask db migrate -m ...`, then review the file"


# --- helpers -------------------------------------------------------------------------------------

def _alembic_config():
    """The configuration `flask db ...` uses (Flask-Migrate's, with the app's directory)."""
    return current_app.extensions["migrate"].migrate.get_config()


def _tables():
    return set(inspect(db.engine).get_table_names())


def _enum_types():
    """PostgreSQL enum types left in the schema (a downgrade must drop the ones it created)."""
    if db.engine.dialect.name != "postgresql":
        return set()
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = current_schema() AND t.typtype = 'e'"))
        return {row[0] for row in rows}


def _current_revision():
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _unquoted(text):
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return text


def _same_server_default(_context, _inspected_column, _metadata_column, inspected_default,
                         _metadata_default, rendered_metadata_default):
    """As in migrations/env.py: alembic's SQLite comparison reports DEFAULT '' as differing from
    server_default="", so equal text once quoting is set aside counts as equal; else alembic
    decides (on PostgreSQL it asks the server)."""
    if inspected_default is None or rendered_metadata_default is None:
        return None
    if _unquoted(inspected_default) == _unquoted(rendered_metadata_default):
        return False
    return None


def _schema_differences():
    """What autogenerate would write if run now: empty when the database equals the models."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": _same_server_default})
        return compare_metadata(context, db.metadata)


def _drop_everything():
    """Leave the (shared, on PostgreSQL) test database empty whatever the test did."""
    db.session.remove()
    reflected = MetaData()
    reflected.reflect(bind=db.engine)
    reflected.drop_all(bind=db.engine)
    with db.engine.begin() as conn:
        for name in _enum_types():
            conn.execute(text(f'DROP TYPE IF EXISTS "{name}"'))


@pytest.fixture
def bare_app(make_config):
    """An app whose database is empty: no create_all, the migrations have to build everything."""
    app = create_app(make_config())
    with app.app_context():
        assert _tables() == set(), "the test database should start empty"
        try:
            yield app
        finally:
            _drop_everything()
            db.engine.dispose()


# --- the schema ----------------------------------------------------------------------------------

def test_upgrade_on_an_empty_database_builds_exactly_the_models(bare_app):
    assert len(db.metadata.tables) >= 5, "models not imported: the comparison would be empty"

    command.upgrade(_alembic_config(), "head")

    assert _schema_differences() == [], DRIFT
    assert _tables() == set(db.metadata.tables) | {"alembic_version"}
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert _current_revision() == heads[0]


def test_every_revision_goes_down_and_up_again(bare_app):
    config = _alembic_config()
    script = ScriptDirectory.from_config(config)
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert chain, "no revision found"

    for revision in chain:  # up one step at a time
        command.upgrade(config, revision)
        assert _current_revision() == revision
    for expected in reversed([None, *chain[:-1]]):  # down one step at a time
        command.downgrade(config, "-1")
        assert _current_revision() == expected

    assert _tables() <= {"alembic_version"}, "downgrade to base left tables behind"
    assert _enum_types() == set(), "downgrade to base left enum types behind"

    command.upgrade(config, "head")
    assert _schema_differences() == [], DRIFT


def test_sqlite_table_rebuild_keeps_child_rows(bare_app, tmp_path):
    """Batch mode rebuilds a SQLite table by dropping it; with foreign keys on, that DROP would
    cascade and silently delete every child row. env.py switches them off while revisions run."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("table rebuilds are specific to SQLite's batch mode")
    from campaign.models import Unit
    from campaign.services import campaigns

    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    extra = tmp_path / "versions"
    extra.mkdir()
    (extra / "20000101_rebuild0000_rebuild_campaigns.py").write_text(textwrap.dedent(f'''\
        """Rebuild the campaigns table, as any batch ALTER on SQLite does."""
        from alembic import op

        revision = "rebuild0000"
        down_revision = {head!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            with op.batch_alter_table("campaigns", recreate="always"):
                pass


        def downgrade():
            pass
        '''))
    config.set_main_option("version_locations", os.pathsep.join([str(VERSIONS), str(extra)]))

    command.upgrade(config, head)
    created = campaigns.create_campaign("rebuild", actor=None, title_fr="Titre", title_en="Title",
                                        summary_fr="Résumé", summary_en="Summary",
                                        employer="Example Corp", status="active")
    campaigns.add_unit(created, "site", "paris", actor=None, name_fr="Paris", name_en="Paris")
    campaigns.add_unit(created, "department", "dev", actor=None, name_fr="Dév", name_en="Dev")
    db.session.commit()
    db.session.remove()

    command.upgrade(config, "rebuild0000")

    assert _current_revision() == "rebuild0000"
    assert db.session.scalar(select(func.count()).select_from(Unit)) == 2
    db.session.remove()
    with db.engine.connect() as conn:  # the pooled connection got its foreign keys back
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# --- the files -----------------------------------------------------------------------------------

def test_revision_file_names_start_with_their_date(bare_app):
    script = ScriptDirectory.from_config(_alembic_config())
    revisions = {Path(rev.path).name: rev.revision for rev in script.walk_revisions()}
    files = {path.name for path in VERSIONS.glob("*.py")}

    assert files == set(revisions), "a file in versions/ is not a revision of the chain"
    for name, revision in revisions.items():
        match = DATED_NAME.match(name)
        assert match, f"{name} does not start with YYYYMMDD_"
        datetime.strptime(match.group(1), "%Y%m%d")  # a real date, not eight digits
        assert match.group(2) == revision, f"{name} does not carry its revision id {revision}"


def test_one_head_so_upgrade_head_is_unambiguous(bare_app):
    heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads {heads}: merge them with `flask db merge heads`"


def test_migrations_directory_is_the_absolute_top_level_one(bare_app, tmp_path, monkeypatch):
    directory = Path(current_app.extensions["migrate"].directory)
    assert directory.is_absolute()
    assert directory == MIGRATIONS
    assert Path(current_app.config["MIGRATIONS_FOLDER"]) == MIGRATIONS

    monkeypatch.chdir(tmp_path)  # Flask-Migrate resolves relative paths against the cwd
    script = ScriptDirectory.from_config(_alembic_config())
    assert Path(script.dir) == MIGRATIONS
    assert (Path(script.dir) / "env.py").is_file()
    assert script.get_heads()
