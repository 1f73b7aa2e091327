"""Engine set-up: SQLite pragmas and write transactions that take the write lock up front.

On SQLite a deferred transaction that reads and then writes fails at once with "database is
locked" when another writer got there first, whatever the busy timeout. So every transaction
opened by a state-changing request (POST, PUT, DELETE...), by a CLI command, or explicitly marked
with `write_transaction()`, starts with BEGIN IMMEDIATE and waits its turn (busy timeout).
Read-only requests (GET, HEAD) keep deferred transactions, which never block in WAL mode.
"""

import fcntl
import os
import time

from flask import current_app, g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.exc import DisconnectionError

from .extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def mark_write_request():
    """Call before the first query of a GET request that must write (e.g. an audited view), or
    before a transaction that writes after `reads_from_here` (a cache refresh)."""
    g.campaign_write_request = True
    g.campaign_committed = False


def writes_on_get(view):
    """Mark a view whose GET writes (an audited look at identities): its transaction starts
    with the write lock, before the request's first query (the staff session lookup)."""
    view.writes_on_get = True
    return view


def _flag_writing_views():
    endpoint = request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if getattr(view, "writes_on_get", False):
        mark_write_request()
    if getattr(view, "reads_first", False):
        g.campaign_reads_first = True


def reads_first(view):
    """Mark a hot POST view that reads in a deferred transaction, then calls `begin_write()`
    just before it writes, so the write lock is held only for the write itself."""
    view.reads_first = True
    return view


def begin_write():
    """End the current read transaction, if any; the next one starts with BEGIN IMMEDIATE
    (SQLite), so nothing it reads can change before it ends. Objects loaded so far are expired
    and reload inside the write transaction, so every check made on them is made again on fresh
    data. (PostgreSQL has no such lock: there a caller locks the rows it relies on, FOR SHARE.)"""
    db.session.rollback()
    g.campaign_reads_first = False
    g.campaign_committed = False
    g.campaign_write_request = True


def reads_from_here():
    """Roll back what is open (giving the write lock back); the rest of the request only reads
    (a page shown again), in transactions that take no write lock."""
    db.session.rollback()
    g.campaign_write_request = False
    g.campaign_committed = True  # see _wants_immediate


def attribute_keys(model):
    """The attribute name of each column of `model`'s table, in column order (computed once)."""
    keys = _ATTRIBUTE_KEYS.get(model)
    if keys is None:
        mapper = inspect(model)
        keys = _ATTRIBUTE_KEYS[model] = tuple(mapper.get_property_by_column(column).key
                                              for column in model.__table__.columns)
    return keys


_ATTRIBUTE_KEYS = {}


class NotRead:
    """What a read-only copy holds for a relationship nobody read for it: using it is a bug,
    said at once (an object outside any session would silently give an empty list)."""

    def __init__(self, name):
        self._name = name

    def _fail(self, *_args):
        raise LookupError(f"{self._name} was not read for this read-only copy")

    __iter__ = __len__ = __bool__ = __getitem__ = _fail

    def __getattr__(self, attribute):
        self._fail()


def row(obj):
    """Every column value of a loaded row, in its table's column order (None stands for a
    missing row): the same tuple as a Core row of that table."""
    if obj is None:
        return None
    return tuple(getattr(obj, key) for key in attribute_keys(type(obj)))


def transient(model, values):
    """A detached, read-only stand-in for a row (its values in table column order), for the
    checks made on loaded objects: built without the constructor's attribute events (a tenth of
    their cost), never added to a session. Its relationships hold `NotRead` until the caller
    sets one in its `__dict__` (they never load)."""
    obj = inspect(model).class_manager.new_instance()
    obj.__dict__.update(_not_read(model))
    obj.__dict__.update(zip(attribute_keys(model), values, strict=True))
    return obj


def _not_read(model):
    """{relationship name: NotRead} for `model` (computed once)."""
    found = _NOT_READ.get(model)
    if found is None:
        found = _NOT_READ[model] = {
            name: NotRead(f"{model.__name__}.{name}")
            for name in inspect(model).relationships.keys()}
    return found


_NOT_READ = {}


def _wants_immediate():
    if not has_request_context():
        return True  # CLI commands, tests and jobs: few and short, serialise them
    if g.get("campaign_committed", False):
        return False  # after the request's write is committed, what is left only reads
    if g.get("campaign_write_request", False):
        return True
    if g.get("campaign_reads_first", False):
        return False
    return request.method not in SAFE_METHODS


def _note_commit(_session):
    if has_request_context():
        g.campaign_committed = True


def set_connect_timeout(app):
    """PostgreSQL: give up connecting after DATABASE_CONNECT_TIMEOUT seconds (libpq's
    connect_timeout), before the engine is made. Without it, a database host that drops packets
    or never answers held each worker until gunicorn killed it (the proxy then answered 502, in
    no language); now the request gets the translated 503."""
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not uri.startswith("postgresql"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    connect_args = dict(options.get("connect_args") or {})
    # libpq counts whole seconds, 2 at least
    connect_args.setdefault("connect_timeout",
                            max(2, int(app.config.get("DATABASE_CONNECT_TIMEOUT", 5))))
    options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_engine(app):
    """Attach dialect-specific listeners to the app's engine."""
    app.before_request(_flag_writing_views)
    event.listen(db.session, "after_commit", _note_commit)
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        _ping_when_idle(engine)
        return
    busy_ms = int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000))
    is_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is off).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not is_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Erased values are overwritten with zeros, not just marked free.
            cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    queue = None if is_memory else WriterQueue(engine.url.database, busy_ms)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if not _wants_immediate():
            connection.exec_driver_sql("BEGIN")
            return
        if queue is not None:
            queue.enter(connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except Exception:
            if queue is not None:
                queue.leave(connection)
            raise

    if queue is not None:
        event.listen(engine, "commit", queue.leave)
        event.listen(engine, "rollback", queue.leave)
        event.listen(engine, "checkin", queue.give_back)  # safety net: back in the pool
        event.listen(engine, "close", queue.forget)


#: a pooled server connection unused for longer than this is checked before it is handed out
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "campaign_idle_since"


def _ping_when_idle(engine):
    """Check a server connection that sat unused in the pool (a restarted database, a timeout
    or a firewall drops those) with the dialect's own ping before handing it out; one given
    back moments ago is handed out as it is. (SQLAlchemy's pool_pre_ping pings at every
    checkout: a round trip per request, as much as the petition page's query.) A connection that
    died while in use is noticed by its failing statement instead: SQLAlchemy drops it and every
    pooled connection older than the failure, that request gets the translated 503 with nothing
    written, and the next one connects anew."""

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError from error  # the pool retries with a new connection


class WriterQueue:
    """Writers to one SQLite file wait their turn on a lock file beside it (flock), not in
    SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries and so leaves
    the cores idle while the write lock is free: with several gunicorn workers signing at once,
    that sleeping cost more than the signing itself. The lock is taken before BEGIN IMMEDIATE
    and given back when the transaction ends; the kernel drops it if the process dies. Waiting
    here is bounded by the busy timeout, after which SQLite's own timeout decides as before.
    """

    POLL_SECONDS = 0.0005

    def __init__(self, database, busy_ms):
        self.path = f"{database}-writers"
        self.timeout = busy_ms / 1000

    def _fd(self, connection):
        info = connection.info
        if "campaign_writer_fd" not in info:
            try:
                info["campaign_writer_fd"] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # no lock file possible here: SQLite's busy timeout alone, as before
                info["campaign_writer_fd"] = None
        return info["campaign_writer_fd"]

    def enter(self, connection):
        fd = self._fd(connection)
        if fd is None:
            return
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # let SQLite's busy timeout decide, as without the queue
                time.sleep(self.POLL_SECONDS)
            else:
                connection.info["campaign_writer_turn"] = True
                return

    def leave(self, connection):
        if connection.info.pop("campaign_writer_turn", False):
            fcntl.flock(connection.info["campaign_writer_fd"], fcntl.LOCK_UN)

    def give_back(self, _dbapi_connection, record):
        if record is not None and record.info.pop("campaign_writer_turn", False):
            fcntl.flock(record.info["campaign_writer_fd"], fcntl.LOCK_UN)

    def forget(self, _dbapi_connection, record):
        """The pool closed a connection: close its lock file (which gives back any turn)."""
        if record is None:
            return
        record.info.pop("campaign_writer_turn", None)
        fd = record.info.pop("campaign_writer_fd", None)
        if fd is not None:
            os.close(fd)


def checkpoint(app):
    """On SQLite, fold the WAL back into the database file and truncate it, so erased values
    (zeroed by secure_delete) leave no copy behind in the WAL. No-op elsewhere."""
    import sqlite3

    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    connection = sqlite3.connect(url.database, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return True
