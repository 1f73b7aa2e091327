"""SQLite writers wait their turn on a lock file (campaign.database.WriterQueue), handed over by
the kernel the moment a write transaction ends, instead of sleeping in SQLite's busy handler."""

import fcntl
import os
import threading

import pytest
from sqlalchemy import func, select

from campaign import create_app
from campaign.extensions import db
from campaign.models import ConsentText
from campaign.services import consent
import config as settings
from tests.conftest import app_with_schema


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'queue.sqlite3'}"


def lock_is_free(url):
    """Whether a foreign writer could take the turn right now."""
    fd = os.open(url.removeprefix("sqlite:///") + "-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def new_version(label):
    consent.add_version("contact", f"Texte {label}", f"Text {label}")


def versions():
    return db.session.execute(
        select(func.count(ConsentText.id)).where(ConsentText.purpose == "contact")).scalar()


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(sqlite_url):
    with app_with_schema(settings.TestingConfig(database_url=sqlite_url)) as first:
        second = create_app(settings.TestingConfig(database_url=sqlite_url))  # another worker
        done = threading.Event()
        errors = []

        def other_worker():
            try:
                with second.app_context():
                    new_version("second")
                    db.session.commit()
                    db.engine.dispose()
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            done.set()

        with first.app_context():
            new_version("first")  # outside a request: BEGIN IMMEDIATE, and the turn
            assert not lock_is_free(sqlite_url)
            worker = threading.Thread(target=other_worker)
            worker.start()
            assert not done.wait(0.5), "the second writer did not wait for its turn"
            db.session.commit()
        assert done.wait(10)
        worker.join()
        assert errors == []
        assert lock_is_free(sqlite_url)
        with first.app_context():
            assert versions() == 3  # version 1 and both writers' versions


@pytest.mark.parametrize("ending", ["commit", "rollback", "close"])
def test_the_turn_is_given_back_however_the_transaction_ends(sqlite_url, ending):
    with app_with_schema(settings.TestingConfig(database_url=sqlite_url)) as app, app.app_context():
        new_version("held")
        assert not lock_is_free(sqlite_url)
        {"commit": db.session.commit, "rollback": db.session.rollback,
         "close": db.session.close}[ending]()
        assert lock_is_free(sqlite_url)


def test_reads_in_a_request_do_not_take_the_turn(sqlite_url):
    with app_with_schema(settings.TestingConfig(database_url=sqlite_url)) as app:
        with app.test_request_context("/", method="GET"):
            assert versions() == 1
            assert lock_is_free(sqlite_url)
            db.session.rollback()


def test_a_turn_held_by_something_else_delays_writes_by_at_most_the_busy_timeout(sqlite_url):
    """A foreign holder of the lock file (not of SQLite's lock) cannot stop the application:
    after the busy timeout SQLite decides, and it lets the write through."""
    config = settings.TestingConfig(database_url=sqlite_url)
    config.SQLITE_BUSY_TIMEOUT_MS = 200
    with app_with_schema(config) as app:
        fd = os.open(sqlite_url.removeprefix("sqlite:///") + "-writers", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with app.app_context():
                new_version("through")
                db.session.commit()
                assert versions() == 2
        finally:
            os.close(fd)


def test_a_connection_kept_open_gives_back_the_turn_with_each_transaction(sqlite_url):
    with app_with_schema(settings.TestingConfig(database_url=sqlite_url)) as app:
        with app.app_context(), db.engine.connect() as connection:
            connection.execute(ConsentText.__table__.update().values(sha256="0" * 64))
            assert not lock_is_free(sqlite_url)
            connection.rollback()
            assert lock_is_free(sqlite_url)
            connection.execute(select(func.count(ConsentText.id)))  # a new write transaction
            assert not lock_is_free(sqlite_url)
            connection.commit()
            assert lock_is_free(sqlite_url)


def test_without_a_lock_file_writes_still_go_through(sqlite_url, monkeypatch):
    """A directory where the lock file cannot be made leaves SQLite's busy timeout alone in
    charge, as before the queue existed."""
    with app_with_schema(settings.TestingConfig(database_url=sqlite_url)) as app:
        real_open = os.open

        def refuse_lock_file(path, *args, **kwargs):
            if str(path).endswith("-writers"):
                raise PermissionError(path)
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse_lock_file)
        with app.app_context():
            db.engine.dispose()  # new connections, which try to open the lock file
            new_version("without")
            db.session.commit()
            assert versions() == 2
