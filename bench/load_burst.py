"""A bounded burst of signers against gunicorn, on SQLite and then on PostgreSQL, checked and timed.

    .venv/bin/python bench/load_burst.py [--signatures 2000] [--repeats 400] [--clients 64]
        [--workers 5] [--databases sqlite,postgresql] [--pg-url URL]

For each database: a scratch database (a SQLite file in WAL mode under a temporary folder, or a
PostgreSQL database created for the run and dropped after it) migrated with `flask db upgrade`; a
campaign and an open petition created with the app's factory; then gunicorn with the project's
gunicorn.conf.py (sync workers, CAMPAIGN_ENV=production, mail to a loopback SMTP sink) serving
bench/burst_wsgi.py. Each simulated signer GETs the petition page (session cookie and CSRF token),
then POSTs the form; `--repeats` of them reuse an address already in the burst, shuffled so that
repeats race the first signature of their address. The same client, the same gunicorn settings and
the same number of submissions are then pointed at a hello-world Flask app: the baseline.

Checks (the exit status is 1 when one fails): every accepted (200) signature is stored exactly once
(the set of stored signer keys equals the set of accepted addresses; one row per accepted
submission, a repeat being stored as a shadow), no response is a 5xx, no request failed, and the
server log holds no "database is locked" and no database error. Prints throughput and p50/p99
latencies next to the baseline. Loopback only; every request loop is bounded; servers, sink and
scratch databases are stopped and removed at the end.

The functions here also serve tests/test_burst.py and tests/test_faults.py.
"""

import argparse
import base64
import contextlib
import http.client
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
CAMPAIGN_TARGET = "burst_wsgi:campaign_app()"
HELLO_TARGET = "burst_wsgi:hello_app()"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
#: what a server log must never contain after a burst
LOG_PROBLEMS = ("database is locked", "OperationalError", "database unavailable", "unhandled ",
                "Traceback", "WORKER TIMEOUT")
SLUG, PETITION = "burst", "sign-here"


# --- servers -------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def data_key_spec(kid, key):
    return f"{kid}:{base64.urlsafe_b64encode(key).decode().rstrip('=')}"


def new_secrets():
    """Fresh production secrets, as environment variables."""
    return {
        "SECRET_KEY": secrets.token_hex(32),
        "CAMPAIGN_HASH_KEY": secrets.token_hex(32),
        "CAMPAIGN_DATA_KEYS": data_key_spec("bench1", secrets.token_bytes(32)),
    }


def secrets_of(config):
    """The environment variables that give a server the same secrets as this Flask config."""
    return {
        "SECRET_KEY": config["SECRET_KEY"],
        "CAMPAIGN_HASH_KEY": config["HASH_KEY"],
        "CAMPAIGN_DATA_KEYS": ",".join(data_key_spec(kid, key) for kid, key in config["DATA_KEYS"]),
    }


def server_env(database_url, secrets_env, **extra):
    """The environment of a production server: nothing from the caller's CAMPAIGN_* leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAMPAIGN_", "GUNICORN_", "FLASK_"))
           and k not in ("DATABASE_URL", "SECRET_KEY", "WEB_CONCURRENCY")}
    env.update(secrets_env)
    env.update({"CAMPAIGN_ENV": "production", "DATABASE_URL": database_url,
                "FLASK_APP": "campaign:create_app", "PYTHONUNBUFFERED": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextlib.contextmanager
def environment(env):
    """Run in-process code (the app factory) under `env`, then put os.environ back."""
    saved = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bench_config(env):
    sys.path.insert(0, str(BENCH))
    try:
        from burst_wsgi import bench_config as make
    finally:
        sys.path.remove(str(BENCH))
    with environment(env):
        return make()


def flask_command(env, *args, timeout=120):
    """`flask ARGS` in the project folder with `env`; raises with its output when it fails."""
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run([str(flask), *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self):
        """Live worker processes (children of the gunicorn master)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                pids.append(int(entry.name))
        return sorted(pids)


def get(port, path, timeout=10, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def start_server(target, env, workers, log_path, *, ready_path="/healthz", timeout=60):
    """gunicorn with the project's gunicorn.conf.py serving `target`, once it answers 200."""
    port = free_port()
    env = dict(env, WEB_CONCURRENCY=str(workers), GUNICORN_BIND=f"127.0.0.1:{port}")
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the server
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--chdir", str(ROOT),
         "--pythonpath", str(BENCH), target],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = Server(process, port, Path(log_path))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{server.log()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(server.port, ready_path, timeout=2)[0] == 200:
                # Every worker up: each one imports the app before it accepts.
                while len(server.worker_pids()) < workers and time.monotonic() < deadline:
                    time.sleep(0.1)
                return server
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{server.log()[-3000:]}")


def stop_server(server, timeout=30):
    """Graceful stop (SIGTERM to the master), then SIGKILL to its process group if it lingers."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def log_problems(text):
    return {needle: text.count(needle) for needle in LOG_PROBLEMS if needle in text}


# --- the scratch databases -----------------------------------------------------------------------

def create_pg_database(admin_url):
    import psycopg

    name = f"campaign_bench_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def drop_pg_database(admin_url, url):
    import psycopg

    name = url.rpartition("/")[2]
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _libpq(url):
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def add_petition(app, slug=SLUG, petition=PETITION):
    """A campaign and an open petition, made with the app's services."""
    from campaign.extensions import db
    from campaign.services import campaigns, petitions

    with app.app_context():
        campaign = campaigns.create_campaign(slug, actor=None, title_fr="Rafale",
                                             title_en="Burst", employer="Bench Corp",
                                             status="active")
        petitions.create_petition(campaign, petition, actor=None, title_fr="Signez",
                                  title_en="Sign here", status="open", refresh_minutes=15)
        db.session.commit()


# --- the clients ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One simulated signer: GET the page, POST the form."""

    email: str
    get_status: int | None = None
    post_status: int | None = None
    get_seconds: float | None = None
    post_seconds: float | None = None
    error: str | None = None
    server_error_body: str | None = field(default=None, repr=False)


def _cookies(response):
    jar = {}
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value.strip()
    return jar


def sign_once(port, email, name, *, slug=SLUG, petition=PETITION, timeout=60):
    """One signer, as a browser would: the page (cookie, token), then the form post."""
    outcome = Outcome(email)
    page_path = f"/c/{slug}/p/{petition}"
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        started = time.perf_counter()
        conn.request("GET", page_path, headers={"Accept-Language": "fr"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        outcome.get_seconds = time.perf_counter() - started
        outcome.get_status = response.status
        conn.close()
        if response.status != 200:
            outcome.server_error_body = body[:500] if response.status >= 500 else None
            return outcome
        cookies = _cookies(response)
        token = CSRF_RE.search(body)
        if token is None:
            outcome.error = "no CSRF token in the page"
            return outcome
        form = urlencode({"csrf_token": token.group(1), "name": name, "email": email,
                          "version_public_name": "1", "version_share_with_reps": "1",
                          "version_contact": "1"})
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "fr",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        started = time.perf_counter()
        conn.request("POST", f"{page_path}/sign", body=form, headers=headers)
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        outcome.post_seconds = time.perf_counter() - started
        outcome.post_status = response.status
        conn.close()
        if response.status >= 500:
            outcome.server_error_body = body[:500]
    except (OSError, http.client.HTTPException) as error:
        outcome.error = type(error).__name__
    return outcome


def plan(signatures, repeats, seed=0):
    """(email, name) for each submission: `signatures` distinct addresses, then `repeats` more
    submissions of addresses among them, shuffled so that a repeat may race its first."""
    rng = random.Random(seed)
    emails = [f"signer{i:05d}@personal.example" for i in range(signatures)]
    jobs = [(e, f"Signer {i}") for i, e in enumerate(emails)]
    jobs += [(e, "Someone Else") for e in rng.choices(emails, k=repeats)]
    rng.shuffle(jobs)
    return jobs


def _thread_burst(port, jobs, threads, on_done=None):
    def one(job):
        result = sign_once(port, *job)
        if on_done is not None:
            on_done(result)
        return result

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, jobs))


def _process_entry(args):
    return _thread_burst(*args)


def burst(port, jobs, clients, processes=1, on_done=None):
    """Run every job with `clients` concurrent signers (threads, spread over `processes`
    processes so the client is not held back by one interpreter). Returns (outcomes, seconds)."""
    started = time.perf_counter()
    if processes <= 1:
        outcomes = _thread_burst(port, jobs, clients, on_done)
    else:
        chunks = [jobs[i::processes] for i in range(processes)]
        per = max(1, clients // processes)
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_process_entry, [(port, chunk, per) for chunk in chunks])
        outcomes = [o for part in parts for o in part]
    return outcomes, time.perf_counter() - started


# --- checks --------------------------------------------------------------------------------------

@dataclass
class Stored:
    counted_keys: list  # signer_key of every non-shadow signature
    shadows: int
    total: int


def _petition(slug, petition):
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.models import Petition
    from campaign.services.campaigns import get_by_slug

    campaign = get_by_slug(slug)
    return db.session.execute(select(Petition).where(
        Petition.campaign_id == campaign.id, Petition.slug == petition)).scalar_one()


def stored_signatures(app, slug=SLUG, petition=PETITION):
    """What the database holds for the petition, read through the app's models."""
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.models import Signature

    with app.app_context():
        found = _petition(slug, petition)
        rows = db.session.execute(select(Signature.signer_key, Signature.is_shadow).where(
            Signature.petition_id == found.id)).all()
        db.session.remove()
    return Stored(counted_keys=[key for key, shadow in rows if not shadow],
                  shadows=sum(1 for _key, shadow in rows if shadow), total=len(rows))


def signer_keys(app, emails, slug=SLUG, petition=PETITION):
    """The keyed hash the app stores for each address (same secrets as the server)."""
    from campaign.extensions import db
    from campaign.services.signatures import signer_key

    with app.app_context():
        found = _petition(slug, petition)
        keys = {email: signer_key(found, email) for email in emails}
        db.session.remove()
    return keys


@dataclass
class Verdict:
    submissions: int
    accepted: int  # POSTs answered 200
    accepted_addresses: int
    counted: int  # non-shadow signatures stored
    shadows: int
    duplicates: int  # addresses stored more than once as counted signatures
    missing: int  # accepted addresses with no counted signature
    unexpected: int  # counted signatures of an address that was never accepted
    server_errors: int  # 5xx
    failed_requests: int  # connection errors, timeouts
    other_statuses: dict
    log_problems: dict

    @property
    def ok(self):
        return (self.accepted == self.submissions and self.counted == self.accepted_addresses
                and self.shadows == self.accepted - self.accepted_addresses
                and not (self.duplicates or self.missing or self.unexpected or self.server_errors
                         or self.failed_requests or self.other_statuses or self.log_problems))


def verify(app, outcomes, server_log):
    accepted = [o for o in outcomes if o.post_status == 200]
    addresses = {o.email for o in accepted}
    stored = stored_signatures(app)
    keys = signer_keys(app, {o.email for o in outcomes})
    expected = {keys[e] for e in addresses}
    counted = stored.counted_keys
    statuses = {}
    for o in outcomes:
        status = o.post_status if o.post_status is not None else o.get_status
        if status is not None and status != 200 and status < 500:
            statuses[status] = statuses.get(status, 0) + 1
    return Verdict(
        submissions=len(outcomes), accepted=len(accepted), accepted_addresses=len(addresses),
        counted=len(counted), shadows=stored.shadows,
        duplicates=len(counted) - len(set(counted)),
        missing=len(expected - set(counted)), unexpected=len(set(counted) - expected),
        server_errors=sum(1 for o in outcomes if (o.post_status or o.get_status or 0) >= 500),
        failed_requests=sum(1 for o in outcomes if o.error),
        other_statuses=statuses, log_problems=log_problems(server_log))


# --- timing --------------------------------------------------------------------------------------

def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Timing:
    seconds: float
    submissions: int
    post_p50: float
    post_p99: float
    get_p50: float
    get_p99: float

    @property
    def per_second(self):
        return self.submissions / self.seconds

    def line(self):
        return (f"{self.submissions} submissions in {self.seconds:5.1f} s = "
                f"{self.per_second:6.0f}/s ({2 * self.per_second:6.0f} requests/s); "
                f"POST p50 {self.post_p50 * 1000:6.1f} ms p99 {self.post_p99 * 1000:7.1f} ms; "
                f"GET p50 {self.get_p50 * 1000:6.1f} ms p99 {self.get_p99 * 1000:7.1f} ms")


def timing(outcomes, seconds):
    posts = [o.post_seconds for o in outcomes if o.post_seconds is not None]
    gets = [o.get_seconds for o in outcomes if o.get_seconds is not None]
    return Timing(seconds, len(outcomes), percentile(posts, 0.5), percentile(posts, 0.99),
                  percentile(gets, 0.5), percentile(gets, 0.99))


# --- a loopback SMTP sink that counts what it receives -----------------------------------------

def run_smtp_sink(port, report_path):
    """Accept every message on 127.0.0.1:port; on SIGTERM write 'received distinct' and exit."""
    from aiosmtpd.controller import Controller

    seen = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            match = re.search(rb"^Message-ID:\s*(\S+)", envelope.content, re.I | re.M)
            seen.append(match.group(1) if match else b"")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait(3600)
    controller.stop()
    Path(report_path).write_text(f"{len(seen)} {len(set(seen))}\n")


@contextlib.contextmanager
def smtp_sink(folder):
    port = free_port()
    report = Path(folder) / "smtp-sink.txt"
    process = subprocess.Popen([sys.executable, __file__, "--smtp-sink", str(port), str(report)],
                               cwd=ROOT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
        time.sleep(0.1)
    counts = {}
    try:
        yield port, counts
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        if report.exists():
            received, distinct = report.read_text().split()
            counts.update(received=int(received), distinct=int(distinct))


def pending_mail(app):
    from campaign import mail
    from campaign.extensions import db

    with app.app_context():
        count = mail.pending_count()
        db.session.remove()
    return count


# --- the bench -----------------------------------------------------------------------------------

def run_database(kind, args, folder):
    """One database: migrate, seed, baseline, burst, checks. Returns True when every check held."""
    secrets_env = new_secrets()
    if kind == "sqlite":
        database_url = f"sqlite:///{folder / 'burst.sqlite3'}"
        label = f"SQLite (WAL, synchronous=NORMAL, busy timeout 15 s) file {folder / 'burst.sqlite3'}"
    else:
        database_url = create_pg_database(args.pg_url)
        label = f"PostgreSQL scratch database {database_url.rpartition('/')[2]}"
    print(f"\n== {label}")
    try:
        with smtp_sink(folder) as (smtp_port, mail_counts):
            env = server_env(database_url, secrets_env, CAMPAIGN_MAIL_SERVER="127.0.0.1",
                             CAMPAIGN_MAIL_PORT=smtp_port, CAMPAIGN_MAIL_STARTTLS="false")
            flask_command(env, "db", "upgrade")
            from campaign import create_app

            app = create_app(bench_config(env))
            add_petition(app)
            jobs = plan(args.signatures, args.repeats)

            hello = start_server(HELLO_TARGET, env, args.workers, folder / f"hello-{kind}.log")
            try:
                warm = [(f"warm{i}@personal.example", "Warm") for i in range(args.clients)]
                burst(hello.port, warm, args.clients, args.processes)
                hello_outcomes, hello_seconds = burst(hello.port, jobs, args.clients,
                                                      args.processes)
            finally:
                stop_server(hello)
            hello_timing = timing(hello_outcomes, hello_seconds)
            hello_bad = sum(1 for o in hello_outcomes if o.post_status != 200)

            server = start_server(CAMPAIGN_TARGET, env, args.workers,
                                  folder / f"campaign-{kind}.log")
            try:
                outcomes, seconds = burst(server.port, jobs, args.clients, args.processes)
                time.sleep(1)  # mail sent after the last responses
            finally:
                stop_server(server)
            server_log = server.log()
        campaign_timing = timing(outcomes, seconds)
        verdict = verify(app, outcomes, server_log)
        waiting = pending_mail(app)
        with app.app_context():
            from campaign.extensions import db

            db.engine.dispose()
    finally:
        if kind == "postgresql":
            drop_pg_database(args.pg_url, database_url)

    print(f"  hello-world baseline : {hello_timing.line()}"
          + (f"  [{hello_bad} not 200]" if hello_bad else ""))
    print(f"  campaign (signing)   : {campaign_timing.line()}")
    print(f"  throughput ratio campaign / hello-world: "
          f"{campaign_timing.per_second / hello_timing.per_second:.2f}")
    v = verdict
    print(f"  accepted {v.accepted} of {v.submissions} submissions ({v.accepted_addresses} "
          f"distinct addresses) -> stored {v.counted} counted signatures + {v.shadows} shadows "
          f"(repeats); accepted addresses = stored: {v.counted == v.accepted_addresses}; "
          f"duplicates {v.duplicates}; missing {v.missing}; unexpected {v.unexpected}")
    print(f"  5xx {v.server_errors}; failed requests {v.failed_requests}; other statuses "
          f"{v.other_statuses or 'none'}; server log problems {v.log_problems or 'none'}")
    print(f"  mail: {mail_counts.get('received', '?')} received by the sink "
          f"({mail_counts.get('distinct', '?')} distinct), {waiting} still queued in the outbox "
          f"(one mail is queued per accepted submission: {v.accepted})")
    duplicates = mail_counts.get("received", 0) - mail_counts.get("distinct", 0)
    if duplicates:
        print(f"  WARNING: {duplicates} mails were delivered more than once (the same message to "
              f"the same signer): concurrent outbox deliveries picked the same rows")
    failing = [o for o in outcomes if (o.post_status or o.get_status or 0) >= 500]
    if failing:
        kinds = {}
        for o in failing:
            kind = "POST sign" if o.post_status else "GET page"
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"  5xx by request: {kinds}")
    for line in server_log.splitlines():
        if any(needle in line for needle in LOG_PROBLEMS):
            print(f"  server log: {line.strip()[:200]}")
    print(f"  result: {'PASS' if v.ok else 'FAIL'}")
    return v.ok


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--smtp-sink":
        run_smtp_sink(int(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=2000, help="distinct addresses")
    parser.add_argument("--repeats", type=int, default=400,
                        help="further submissions reusing those addresses")
    parser.add_argument("--clients", type=int, default=64, help="concurrent signers")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2,
                        help="gunicorn workers (default: 2 x cores, as gunicorn.conf.py)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="an account that may create and drop databases")
    args = parser.parse_args()
    if not 0 < args.signatures <= 20000 or not 0 <= args.repeats <= 20000:
        parser.error("keep the burst bounded: at most 20,000 signatures and 20,000 repeats")
    sys.path.insert(0, str(BENCH))
    from burst_wsgi import DEPARTURES

    print(f"Burst: {args.signatures} signers + {args.repeats} repeated addresses, "
          f"{args.clients} concurrent clients in {args.processes} processes; gunicorn "
          f"{args.workers} sync workers with gunicorn.conf.py; {os.cpu_count()} cores")
    print("Server: CAMPAIGN_ENV=production through bench/burst_wsgi.py, which departs from "
          "production only in: " + "; ".join(DEPARTURES))
    print("Mail: SMTP to a loopback sink. Baseline: a hello-world Flask app (GET a page with a "
          "session token, POST it back) served by the same gunicorn settings and client.")
    results = {}
    for kind in [k.strip() for k in args.databases.split(",") if k.strip()]:
        if kind not in ("sqlite", "postgresql"):
            parser.error(f"unknown database {kind}")
        folder = Path(tempfile.mkdtemp(prefix=f"burst-{kind}-"))
        try:
            results[kind] = run_database(kind, args, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print("\n" + ", ".join(f"{k}: {'PASS' if ok else 'FAIL'}" for k, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
