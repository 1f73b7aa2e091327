"""A database built once per test module and copied for each test that needs it.

Building a rich world (campaigns, petitions, signers, staff signed in) takes seconds; copying its
database takes milliseconds: a file copy on SQLite, a `CREATE DATABASE ... TEMPLATE` on
PostgreSQL (CAMPAIGN_TEST_DATABASE_URL). Every copy is read with the one configuration (secrets,
keys) the template was built with.
"""

import copy
import secrets
import shutil
import sqlite3
from contextlib import closing, contextmanager

from sqlalchemy import text

import config
from campaign import create_app
from campaign.extensions import db
from tests.conftest import PG_URL, _admin_engine


class TemplateDatabase:
    """`build(app)` fills the template once; its result is kept in `.built`."""

    def __init__(self, folder, prefix, build, **settings):
        from campaign.services import consent

        self.folder, self.prefix = folder, prefix
        self.admin = _admin_engine(PG_URL) if PG_URL else None
        self.name = self._new_name()
        self.config = config.TestingConfig(database_url=self._create(None, self.name))
        for key, value in settings.items():
            setattr(self.config, key, value)
        app = create_app(self.config)
        with app.app_context():
            db.create_all()
            consent.seed_defaults()
            db.session.commit()
        self.built = build(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()  # a template database must have no open connection
        if self.admin is None:
            # Everything into the main file, which is what a copy takes.
            with closing(sqlite3.connect(self.folder / f"{self.name}.sqlite3")) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _new_name(self):
        return f"{self.prefix}_{secrets.token_hex(4)}"

    def _create(self, template, name):
        if self.admin is not None:
            with self.admin.connect() as conn:
                clause = f' TEMPLATE "{template}"' if template else ""
                conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
            return f"{PG_URL.rpartition('/')[0]}/{name}"
        path = self.folder / f"{name}.sqlite3"
        if template:
            shutil.copyfile(self.folder / f"{template}.sqlite3", path)
        return f"sqlite:///{path}"

    def _drop(self, name):
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            for suffix in ("", "-wal", "-shm"):
                (self.folder / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)

    @contextmanager
    def copy(self):
        """An app on a fresh copy of the template, removed afterwards."""
        name = self._new_name()
        copied = copy.deepcopy(self.config)
        copied.SQLALCHEMY_DATABASE_URI = self._create(self.name, name)
        app = create_app(copied)
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            self._drop(name)

    def close(self):
        self._drop(self.name)
        if self.admin is not None:
            self.admin.dispose()
