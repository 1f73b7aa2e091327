"""Signing throughput and the petition page through gunicorn, as ratios to a minimal Flask app
served the same way in the same run.

    .venv/bin/python bench/signing_throughput.py --requests 2000 --clients 32 --workers 4 \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Two gunicorn servers on loopback, started with the same settings (the project's gunicorn.conf.py:
sync workers, its access log; --workers of them; no worker restarts): the real application
(bench/bench_wsgi.py, production configuration, a SQLite file in WAL mode, or PostgreSQL with
--postgres) and a minimal Flask + Flask-SQLAlchemy app (bench/minimal_wsgi.py) doing one INSERT
and COMMIT per POST, with a hello-world GET, on a database set up the same way. Then, from
--clients threads (http.client, a new connection per request, as gunicorn's sync workers close
them):

  sign      each client opens one session (GETs the petition page: its cookie and CSRF token),
            then POSTs the signing form with fresh addresses; --requests POSTs in all
  insert    the same number of POSTs to the minimal app
  page      GETs of the petition page (anonymous)   vs   hello  GETs of hello-world

and prints requests per second and the ratios sign/insert (target >= 0.4) and page/hello
(target >= 0.3), for each of --rounds rounds (the four measures in turn, so the machine's drift
weighs on both sides of a ratio alike), and their medians. Each measure also prints the CPU
time one request cost the server (its master and workers, the application's mail thread
included; read from /proc) and the client (this process): the two servers and the client share
the machine's cores, so these say where a ratio comes from. Every request loop is bounded, the
servers are stopped and the scratch databases removed at the end. No time target is asserted:
this prints figures.

Before each database it prints what creating one small file costs in the scratch folder: the
application's mail goes to a folder there, one file per signature. On this project's virtual
disks that costs 10 to 50 us, and nearly a millisecond of kernel time for some minutes after
many files were deleted (an earlier run's clean-up), which only the application's side pays;
it then prints a caution. Runs meant to be compared start on a quiet disk.
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GUNICORN_CONF = ROOT / "gunicorn.conf.py"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION_RE = re.compile(r'name="(version_[a-z_]+)"[^>]*value="([^"]*)"')
SLUG, PETITION = "bench", "sign"
PG_APP_DB, PG_MINIMAL_DB = "campaign_sign_bench", "campaign_sign_minimal"


# --- servers --------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(target, port, workers, env, folder, name):
    log = open(folder / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--workers", str(workers),
         # No worker restarts (max_requests, a guard against slow leaks): a restart costs a
         # worker its imports, about a second, and would land in whichever measure is running.
         "--max-requests", "0",
         "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT / "bench"), target],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    return process


def wait_ready(port, path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} exited; see its log")
        try:
            status, _headers, _body = request(port, "GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not answer within {timeout} s")


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group we started: gunicorn and its workers
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    process.log.close()


# --- HTTP -----------------------------------------------------------------------------------------

def request(port, method, path, body=None, cookie=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Accept-Language": "en"}
        if cookie:
            headers["Cookie"] = cookie
        data = None
        if body is not None:
            data = urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def session_cookie(headers):
    for name, value in headers:
        if name.lower() == "set-cookie":
            return value.split(";", 1)[0]
    return None


# --- CPU ------------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def group_cpu_seconds(group):
    """User + system CPU seconds of the live processes of a process group (a gunicorn server we
    started: its master and workers), from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def own_cpu_seconds():
    times = os.times()
    return times.user + times.system


def run_load(total, clients, job):
    """Run `job(client_index, request_index)` `total` times over `clients` threads; returns
    (seconds, statuses)."""
    counter = iter(range(total))
    lock = threading.Lock()
    statuses = []

    def worker(client):
        setup = job.setup(client) if hasattr(job, "setup") else None
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            status = job(client, index, setup)
            with lock:
                statuses.append(status)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker, c) for c in range(clients)]:
            future.result()
    return time.perf_counter() - start, statuses


class Signing:
    """One client session per thread: the page (cookie, CSRF token, consent versions), then
    POSTs."""

    def __init__(self, port, run_id):
        self.port, self.run_id = port, run_id
        self.path = f"/c/{SLUG}/p/{PETITION}"

    def setup(self, client):
        status, headers, body = request(self.port, "GET", self.path)
        if status != 200:
            raise RuntimeError(f"the petition page answered {status}")
        html = body.decode()
        fields = {"csrf_token": CSRF_RE.search(html).group(1), "name": "Bench Signer",
                  "website": ""}
        fields.update(dict(VERSION_RE.findall(html)))
        return session_cookie(headers), fields

    def __call__(self, client, index, setup):
        cookie, fields = setup
        form = {**fields, "email": f"s{self.run_id}-{client}-{index}@bench-personal.example"}
        status, _headers, _body = request(self.port, "POST", self.path + "/sign", form, cookie)
        return status


class Get:
    def __init__(self, port, path):
        self.port, self.path = port, path

    def __call__(self, client, index, setup):
        return request(self.port, "GET", self.path)[0]


class Insert:
    def __init__(self, port):
        self.port = port

    def __call__(self, client, index, setup):
        return request(self.port, "POST", "/insert", {"name": f"row {client}-{index}"})[0]


# --- databases ------------------------------------------------------------------------------------

def prepare_app_database(url, env):
    """Schema, consent texts, and an active campaign with an open petition (via the app itself)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from bench_wsgi import BenchConfig

        from campaign import create_app
        from campaign.extensions import db

        # A new app each time (not bench_wsgi's module-level one, imported once): it reads the
        # database URL of this run from the environment set above.
        app = create_app(BenchConfig())
        from campaign.services import campaigns, consent, petitions

        with app.app_context():
            db.drop_all()
            db.create_all()
            consent.seed_defaults()
            campaign = campaigns.create_campaign(SLUG, actor=None, title_en="Bench",
                                                 title_fr="Banc", employer="Bench Corp",
                                                 employer_domains="bench-corp.example",
                                                 status="active")
            for code in ("paris", "lyon", "lille"):
                campaigns.add_unit(campaign, "site", code, actor=None, name_en=code.title())
            petitions.create_petition(campaign, PETITION, actor=None, title_en="Sign here",
                                      title_fr="Signez ici", text_en="Text.", text_fr="Texte.",
                                      status="open", refresh_minutes=15, goal=5000)
            db.session.commit()
            db.engine.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare_minimal_database(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS entries"))
        conn.execute(text("CREATE TABLE entries (id INTEGER PRIMARY KEY, name VARCHAR(120), "
                          "created_on DATE)" if engine.dialect.name == "sqlite" else
                          "CREATE TABLE entries (id SERIAL PRIMARY KEY, name VARCHAR(120), "
                          "created_on DATE)"))
    engine.dispose()
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("PRAGMA journal_mode = WAL")


@contextmanager
def autocommit(url):
    """A connection to `url` outside any transaction (CREATE / DROP DATABASE, ANALYZE), its
    engine disposed of afterwards."""
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT",
                           connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def pg_create(server, name):
    from sqlalchemy import text

    with autocommit(server) as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return f"{server.rpartition('/')[0]}/{name}"


def autovacuum_off(url):
    """Whether `url` is a PostgreSQL server running without autovacuum (None: not PostgreSQL)."""
    if not url.startswith("postgresql"):
        return None
    from sqlalchemy import text

    with autocommit(url) as conn:
        return conn.execute(text("SHOW autovacuum")).scalar() != "on"


def analyze(*urls):
    """ANALYZE each database, as autovacuum would: PostgreSQL plans a statement a connection
    prepared again once its tables' statistics change, and never otherwise. A server without
    autovacuum keeps the plan made when the signatures table was nearly empty (a sequential
    scan, then slower with every signature); with autovacuum on (PostgreSQL's default, and
    production's), the server analyzes a table that grew on its own within a minute."""
    from sqlalchemy import text

    for url in urls:
        with autocommit(url) as conn:
            conn.execute(text("ANALYZE"))


def pg_drop(server, name):
    from sqlalchemy import text

    with autocommit(server) as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


# --- the run --------------------------------------------------------------------------------------

def measure(label, app_url, minimal_url, args, folder):
    from config import new_data_key_spec

    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_hex(32),
        "CAMPAIGN_HASH_KEY": secrets.token_hex(32),
        "CAMPAIGN_DATA_KEYS": new_data_key_spec("bench1"),
        "DATABASE_URL": app_url,
        "CAMPAIGN_MAIL_FILE_DIR": str(folder / "mail"),
        "BENCH_MINIMAL_DATABASE_URL": minimal_url,
        "PYTHONWARNINGS": "ignore",
    }
    prepare_app_database(app_url, {k: env[k] for k in (
        "SECRET_KEY", "CAMPAIGN_HASH_KEY", "CAMPAIGN_DATA_KEYS", "DATABASE_URL",
        "CAMPAIGN_MAIL_FILE_DIR")})
    prepare_minimal_database(minimal_url)
    app_port, minimal_port = free_port(), free_port()
    servers = []
    try:
        servers.append(start_gunicorn("bench_wsgi:app", app_port, args.workers, env, folder,
                                      f"{label}-app"))
        servers.append(start_gunicorn("minimal_wsgi:app", minimal_port, args.workers, env,
                                      folder, f"{label}-minimal"))
        wait_ready(app_port, "/healthz", servers[0])
        wait_ready(minimal_port, "/hello", servers[1])
        page = f"/c/{SLUG}/p/{PETITION}"
        # warm every worker up (imports, connections, template cache)
        run_load(args.workers * 20, args.clients, Get(app_port, page))
        run_load(args.workers * 20, args.clients, Get(minimal_port, "/hello"))
        run_load(args.workers * 5, args.clients, Signing(app_port, "warm"))
        run_load(args.workers * 5, args.clients, Insert(minimal_port))
        stand_in = autovacuum_off(app_url)
        if stand_in:
            print(f"{label}: this server runs without autovacuum; both databases are analyzed "
                  "after the warm-up and between rounds (untimed), as autovacuum would")

        # Rounds alternate application and baseline, so that the machine's drift (large here:
        # a third from one hour to the next) weighs on both sides of each ratio alike.
        rounds = []
        for number in range(args.rounds):
            if stand_in:
                analyze(app_url, minimal_url)
            results = {}
            for name, job in (
                ("insert", Insert(minimal_port)),
                ("sign", Signing(app_port, f"run{number}")),
                ("hello", Get(minimal_port, "/hello")),
                ("page", Get(app_port, page)),
            ):
                server = servers[1] if name in ("insert", "hello") else servers[0]
                server_before, client_before = group_cpu_seconds(server.pid), own_cpu_seconds()
                seconds, statuses = run_load(args.requests, args.clients, job)
                server_after, client_after = group_cpu_seconds(server.pid), own_cpu_seconds()
                bad = sum(1 for s in statuses if s != 200)
                results[name] = (args.requests / seconds, bad,
                                 None if server_before is None else
                                 (server_after - server_before) / args.requests * 1e3,
                                 (client_after - client_before) / args.requests * 1e3)
            rounds.append(results)
    except Exception:
        # What the servers logged says why (no personal data: the app never logs any).
        for server in servers:
            server.log.flush()
            lines = Path(server.log.name).read_text(errors="replace").splitlines()
            problems = [line for line in lines if "ERROR" in line or "Error" in line]
            print(f"{Path(server.log.name).name}: " + ("\n  ".join(problems[-10:]) or "no error"),
                  file=sys.stderr)
        raise
    finally:
        for server in servers:
            stop(server)
    print(f"{label}: {args.requests} requests each, {args.clients} client threads, "
          f"{args.workers} gunicorn workers per server, {args.rounds} round(s)")
    for number, results in enumerate(rounds, 1):
        print(f"  round {number}")
        for name, caption in (("insert", "minimal INSERT + COMMIT"), ("sign", "signing"),
                              ("hello", "hello world"), ("page", "petition page")):
            rate, bad, server_ms, client_ms = results[name]
            cpu = ("" if server_ms is None else
                   f"   CPU per request: server {server_ms:.2f} ms, client {client_ms:.2f} ms")
            warning = f"   ({bad} not 200!)" if bad else ""
            print(f"    {caption:24s} {rate:8.1f} /s{cpu}{warning}")
        print(f"    ratios: signing / insert {ratio(results, 'sign', 'insert'):.2f}, "
              f"page / hello {ratio(results, 'page', 'hello'):.2f}")
    signing = statistics.median(ratio(r, "sign", "insert") for r in rounds)
    pages = statistics.median(ratio(r, "page", "hello") for r in rounds)
    print(f"  ratio signing / minimal insert      {signing:.2f}   (median of the rounds; "
          "target >= 0.4)")
    print(f"  ratio petition page / hello world   {pages:.2f}   (median of the rounds; "
          "target >= 0.3)")


#: above this (us), creating a file costs what this disk charges in its slow state
SLOW_FILE_US = 150


def file_creation_us(folder, name, count=300):
    """CPU time to create and write one small file in `folder`/`name`, as the mail folder
    transport does for each signature's mail. The files stay until the run's folder is removed
    at the end: deleting them here would slow the measures that follow (see below).

    On this project's test machines (ext4 on a virtual disk) it reads 10 to 50 us, and 300 to
    900 us for some minutes after many files were deleted nearby, such as the mail files of a
    previous run, which this script deletes when it ends: creating even an empty file then costs
    that much, and only the application's side of the signing ratio pays it, once per
    signature. `report_disk` says so."""
    probe = folder / name
    probe.mkdir()
    start = time.process_time()
    for number in range(count):
        fd = os.open(probe / f"{number}.eml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x" * 2048)
        os.close(fd)
    return (time.process_time() - start) / count * 1e6


def report_disk(folder, name):
    spent = file_creation_us(folder, name)
    print(f"creating a file in {folder.parent}: {spent:.0f} us of CPU (each signature's mail is "
          "one file here; the baseline writes none)")
    if spent > SLOW_FILE_US:
        print(f"  caution: this disk is in its slow state (over {SLOW_FILE_US} us a file), most "
              "likely from files deleted in the last few minutes (an earlier run's clean-up); "
              "each signature pays it once more. Figures from a quiet disk: run again later.")


def ratio(results, name, baseline):
    return results[name][0] / results[baseline][0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--postgres", help="PostgreSQL server URL (also run on PostgreSQL)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of the four measures (the ratios' median)")
    args = parser.parse_args()
    args.requests = max(1, min(args.requests, 20_000))  # bounded whatever is asked
    args.clients = max(1, min(args.clients, 128))
    args.rounds = max(1, min(args.rounds, 9))
    sys.path.insert(0, str(ROOT / "bench"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    folder = Path(tempfile.mkdtemp(prefix="sign-bench-"))
    try:
        report_disk(folder, "file-probe-sqlite")
        measure("SQLite", f"sqlite:///{folder / 'app.sqlite3'}",
                f"sqlite:///{folder / 'minimal.sqlite3'}", args, folder)
        if args.postgres:
            app_url = pg_create(args.postgres, PG_APP_DB)
            minimal_url = pg_create(args.postgres, PG_MINIMAL_DB)
            try:
                report_disk(folder, "file-probe-postgresql")
                measure("PostgreSQL", app_url, minimal_url, args, folder)
            finally:
                pg_drop(args.postgres, PG_APP_DB)
                pg_drop(args.postgres, PG_MINIMAL_DB)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
