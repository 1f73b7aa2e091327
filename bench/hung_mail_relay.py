"""Signing through gunicorn while the mail relay takes connections and never answers.

    .venv/bin/python bench/hung_mail_relay.py [--signatures 200] [--clients 16] [--workers 4]

The real application (bench/bench_wsgi.py, production configuration, a SQLite file) with its
mail going by SMTP to a relay on loopback that accepts every connection and never says a word
(a hung relay, a firewall that swallows packets after the handshake looks much the same). Each
signature's mail is sent after its response, by the worker that served it; the SMTP timeout is
the default (CAMPAIGN_MAIL_TIMEOUT_SECONDS, 10 s).

Prints how long the signatures took and how many connections the relay was offered, then how
long a petition page takes right after. Every signature must still be answered 200 and stored
(its mail waits in the outbox for the cron). The server and the scratch folder are removed at
the end. No time target is asserted: this prints figures.
"""

import argparse
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import signing_throughput as bench  # noqa: E402 - bench/ is this script's folder

from config import new_data_key_spec  # noqa: E402


class HungRelay:
    """Takes connections on loopback and never answers; counts them."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._take, daemon=True)
        self.thread.start()

    def _take(self):
        while not self.stopping.is_set():
            try:
                connection, _address = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        for connection in self.connections:
            connection.close()
        self.listener.close()


def start_app(database, relay_port, workers, folder, **environ):
    """The application (production configuration) under gunicorn on a new SQLite file
    `database`, mailing the relay on `relay_port` without STARTTLS; `environ` adds variables.
    Returns (gunicorn process, port), ready."""
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(32),
        "CAMPAIGN_HASH_KEY": secrets.token_hex(32),
        "CAMPAIGN_DATA_KEYS": new_data_key_spec("bench1"),
        "DATABASE_URL": f"sqlite:///{database}",
        "CAMPAIGN_MAIL_SERVER": "127.0.0.1",
        "CAMPAIGN_MAIL_PORT": str(relay_port),
        "CAMPAIGN_MAIL_STARTTLS": "false",
        "PYTHONWARNINGS": "ignore",
        **environ,
    }
    bench.prepare_app_database(env["DATABASE_URL"], {k: env[k] for k in (
        "SECRET_KEY", "CAMPAIGN_HASH_KEY", "CAMPAIGN_DATA_KEYS", "DATABASE_URL")})
    port = bench.free_port()
    server = bench.start_gunicorn("bench_wsgi:app", port, workers, env, folder, "app")
    try:
        bench.wait_ready(port, "/healthz", server)
    except Exception:
        bench.stop(server)
        raise
    return server, port


def stored_signatures(path):
    import sqlite3

    with sqlite3.connect(path) as conn:
        signatures = conn.execute("SELECT count(*) FROM signatures").fetchone()[0]
        queued = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    return signatures, queued


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    args.signatures = max(1, min(args.signatures, 5000))  # bounded whatever is asked
    args.clients = max(1, min(args.clients, 64))
    relay = HungRelay()
    folder = Path(tempfile.mkdtemp(prefix="hung-relay-"))
    database = folder / "app.sqlite3"
    server = None
    try:
        server, port = start_app(database, relay.port, args.workers, folder)
        seconds, statuses = bench.run_load(args.signatures, args.clients,
                                           bench.Signing(port, "hung"))
        start = time.perf_counter()
        page_status = bench.request(port, "GET", f"/c/{bench.SLUG}/p/{bench.PETITION}")[0]
        page_seconds = time.perf_counter() - start
        signatures, queued = stored_signatures(database)
    finally:
        if server is not None:
            bench.stop(server)
        relay.close()
        shutil.rmtree(folder, ignore_errors=True)
    answered = sum(1 for status in statuses if status == 200)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.workers} gunicorn "
          f"workers, {args.clients} client threads, a relay that never answers")
    print(f"  {args.signatures} signatures in {seconds:.1f} s ({args.signatures / seconds:.1f} "
          f"per second); {answered} answered 200")
    print(f"  stored: {signatures} signatures, {queued} mails waiting in the outbox")
    print(f"  connections offered to the relay: {len(relay.connections)}")
    print(f"  a petition page right after: {page_status} in {page_seconds:.2f} s")


if __name__ == "__main__":
    main()
