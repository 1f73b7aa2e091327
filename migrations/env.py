"""Alembic environment for Flask-Migrate: the app's engine and metadata, one set of revisions for
SQLite and PostgreSQL.

Options come from `migrate.init_app` in campaign/__init__.py (render_as_batch, compare_type) and
are completed here. On SQLite, foreign keys are switched off while revisions run: batch mode
rebuilds a table by copying it and dropping the original, and with foreign keys on that DROP
would fire ON DELETE CASCADE on every child row (recreating `campaigns` would delete its units,
petitions and signatures). Integrity is checked with `PRAGMA foreign_key_check` before commit.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config

# From the command line, log which revisions run. Under tests, pytest owns the logging handlers:
# fileConfig would replace them (and leave a handler on a closed capture stream).
if config.config_file_name is not None and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

migrate_ext = current_app.extensions["migrate"]
target_db = migrate_ext.db


def get_engine():
    return target_db.engine


def get_metadata():
    return target_db.metadata


def same_server_default(_context, _inspected_column, _metadata_column, inspected_default,
                        _metadata_default, rendered_metadata_default):
    """False when the defaults are the same text once quoting is set aside, else None (alembic
    decides). Alembic's SQLite comparison reports DEFAULT '' as differing from server_default=""."""
    if inspected_default is None or rendered_metadata_default is None:
        return None
    if _unquoted(inspected_default) == _unquoted(rendered_metadata_default):
        return False
    return None


def _unquoted(text):
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return text


def _configure_args():
    args = dict(migrate_ext.configure_args)
    args.setdefault("compare_type", True)
    args.setdefault("compare_server_default", same_server_default)
    args.setdefault("render_as_batch", True)
    if args.get("process_revision_directives") is None:
        args["process_revision_directives"] = _skip_empty_autogenerate
    return args


def _skip_empty_autogenerate(_context, _revision, directives):
    """`flask db migrate` with no schema change writes no empty revision file."""
    if getattr(config.cmd_opts, "autogenerate", False):
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")


def run_migrations_offline():
    """Emit SQL to standard output (`flask db upgrade --sql`) without connecting."""
    url = get_engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True,
                      **{k: v for k, v in _configure_args().items()
                         if k != "process_revision_directives"})
    with context.begin_transaction():
        context.run_migrations()


def _set_sqlite_foreign_keys(connection, enabled):
    # PRAGMA foreign_keys is ignored inside a transaction, so it goes straight to the driver
    # connection, outside SQLAlchemy's transaction (pysqlite runs in autocommit mode here).
    raw = connection.connection.driver_connection
    raw.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")


def run_migrations_online():
    engine = get_engine()
    is_sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if is_sqlite:
            _set_sqlite_foreign_keys(connection, False)
        try:
            # SQLite can roll DDL back too (the engine emits BEGIN itself): one transaction
            # for the whole upgrade, so a failed revision or the integrity check below undoes all.
            context.configure(connection=connection, target_metadata=get_metadata(),
                              transactional_ddl=True, **_configure_args())
            with context.begin_transaction():
                context.run_migrations()
                if is_sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        tables = sorted({row[0] for row in broken})
                        raise RuntimeError(
                            "migration left rows breaking foreign keys in: " + ", ".join(tables))
        finally:
            if is_sqlite:
                _set_sqlite_foreign_keys(connection, True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
