"""`flask backup OUTPUT`: a consistent copy of the SQLite database while the service runs.

SQLite's online backup API copies the database as of one moment, whatever is being written
meanwhile (the copy is taken inside one read transaction, which never blocks writers in WAL mode).
The copy is written next to OUTPUT, checked (`PRAGMA integrity_check`), made readable by its owner
only, then moved into place, so OUTPUT is either a whole, checked copy or absent.

A copy holds identities encrypted and the keys that can read them do not travel with it (they stay
in the service's environment): it is restored with the same CAMPAIGN_DATA_KEYS and
CAMPAIGN_HASH_KEY. For PostgreSQL, `pg_dump` is the tool: this command prints the command line to
use (without any password) and exits with status 2.
"""

import os
import sqlite3
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from .cli import localized_command
from .extensions import db

#: exit status when the database is not SQLite: the copy is pg_dump's job
NOT_SQLITE = 2


def sqlite_backup(source_path, output, busy_timeout_ms=15000):
    """Copy the SQLite database at `source_path` to `output` (absent before); returns its size."""
    output = Path(output)
    partial = output.with_name(f".{output.name}.partial")
    partial.unlink(missing_ok=True)
    # mode=rw: a missing database is an error, never silently created empty.
    source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True,
                             timeout=busy_timeout_ms / 1000)
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # every page in one step: one consistent snapshot
            target.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            problems = target.execute("PRAGMA integrity_check").fetchall()
        finally:
            target.close()
    finally:
        source.close()
    if problems != [("ok",)]:
        partial.unlink(missing_ok=True)
        raise click.ClickException(_("The copy failed its integrity check; nothing was written."))
    os.replace(partial, output)
    return output.stat().st_size


def pg_dump_command(url, output):
    """The pg_dump command line for the database at `url` (a SQLAlchemy URL), without password."""
    parts = ["pg_dump", "--format=custom", f"--file={output}"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts.append(url.database or "")
    return " ".join(parts)


@click.command("backup")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@localized_command
def backup_command(output):
    """Write a consistent copy of the SQLite database to OUTPUT (PostgreSQL: use pg_dump)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        click.echo(_("This database is not SQLite: back it up with pg_dump, for example:"),
                   err=True)
        click.echo(pg_dump_command(url, output), err=True)
        raise SystemExit(NOT_SQLITE)
    if url.database in (None, "", ":memory:"):
        raise click.ClickException(_("An in-memory database cannot be backed up."))
    if output.exists():
        raise click.ClickException(_("%(path)s already exists; choose a new file name.",
                                     path=str(output)))
    size = sqlite_backup(url.database, output,
                         int(current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000)))
    click.echo(_("Backup written: %(path)s (%(size)d bytes).", path=str(output), size=size))
