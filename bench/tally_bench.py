"""How long does a full tally of a big petition take, and how much memory? (SQLite and PostgreSQL)

    .venv/bin/python bench/tally_bench.py --sqlite /tmp/tally-bench.sqlite3 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Fills each database with --n synthetic signatures (default 1,000,000) across 4 petitions (half of
them on the first), 10 sites, 8 departments (5 % of signers give neither) and a year of dates,
some shadows, unconfirmed and withdrawn, inserted FAST: executemany of plain tuples on the raw
DBAPI connection for SQLite, COPY for PostgreSQL (no ORM). Then, in a fresh process (so that peak
memory is the tally's, not the fill's), it times on the big petition:

  tally    campaign.services.tallies.compute(): the one GROUP BY over the covering index, folded
           into a site x department table and a daily series, checked by the suppression engine
  release  take_release(): the tally, the check against earlier releases, the encrypted ledger
  export   export_release(): the CSV by site and department, week by week (audited)

and prints seconds (best of --repeat, and the first, cold-ish run) and peak memory: the Python
heap peak during one tally (tracemalloc) and the measuring process's maximum resident set size
(getrusage; it includes the interpreter, Flask and SQLAlchemy). Targets: under 1 s, under 200 MB.
PostgreSQL is skipped if it cannot be reached; its bench database is created and dropped here.
Run without --sqlite to use a temporary file; pass --keep to reuse a filled database next time.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "campaign_tally_bench"
SITES = 10
DEPARTMENTS = 8
PETITIONS = 4
BATCH = 50_000
COLUMNS = ("public_id", "petition_id", "is_shadow", "site_id", "department_id", "source",
           "signed_on", "confirmed_on", "withdrawn_on")


def make_app(url):
    from campaign import create_app
    from config import TestingConfig

    config = TestingConfig(database_url=url)
    return create_app(config)


# --- filling --------------------------------------------------------------------------------------

def build_schema(app):
    """Fresh tables, one campaign with its units and petitions; returns their ids."""
    from campaign.extensions import db
    from campaign.services import campaigns, petitions

    with app.app_context():
        db.drop_all()
        db.create_all()
        campaign = campaigns.create_campaign("bench", actor=None, title_en="Bench",
                                             employer="Bench", status="active")
        sites = [campaigns.add_unit(campaign, "site", f"site-{i}", actor=None,
                                    name_en=f"Site {i}", name_fr=f"Site {i}",
                                    headcount=12_000 if i else 80_000) for i in range(SITES)]
        departments = [campaigns.add_unit(campaign, "department", f"dept-{i}", actor=None,
                                          name_en=f"Department {i}",
                                          name_fr=f"Département {i}", headcount=30_000)
                       for i in range(DEPARTMENTS)]
        ids = [petitions.create_petition(campaign, f"p{i}", actor=None, title_en=f"P{i}",
                                         status="open").id for i in range(PETITIONS)]
        db.session.commit()
        return ids, [u.id for u in sites], [u.id for u in departments]


def synthetic_rows(n, petition_ids, site_ids, department_ids, seed=1):
    """Batches of plain tuples (COLUMNS order); dates as date objects."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
    start = date.today() - timedelta(days=365)
    days = [start + timedelta(days=i) for i in range(366)]
    # half on the first petition, the rest spread over the others
    petitions = [petition_ids[0]] * (len(petition_ids) - 1) + petition_ids[1:]
    sites = site_ids + [None] * max(1, len(site_ids) // 19)
    departments = department_ids + [None] * max(1, len(department_ids) // 19)
    site_weights = [len(site_ids)] + [1] * (len(sites) - 1)  # one big site
    done = 0
    while done < n:
        size = min(BATCH, n - done)
        batch = []
        petition_draw = rng.choices(petitions, k=size)
        site_draw = rng.choices(sites, weights=site_weights, k=size)
        department_draw = rng.choices(departments, k=size)
        day_draw = rng.choices(days, k=size)
        state_draw = [rng.random() for _ in range(size)]
        for i in range(size):
            day = day_draw[i]
            state = state_draw[i]
            batch.append((
                f"bench{done + i:027d}", petition_draw[i], state < 0.01, site_draw[i],
                department_draw[i], "online", day,
                None if 0.01 <= state < 0.03 else day,       # 2 % not confirmed
                day + timedelta(days=3) if 0.03 <= state < 0.04 else None,  # 1 % withdrawn
            ))
        done += size
        yield batch


def fill_sqlite(app, n, ids, sites, departments):
    from campaign.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA synchronous = OFF")
            sql = (f"INSERT INTO signatures ({', '.join(COLUMNS)}) "  # noqa: S608 - constants
                   f"VALUES ({', '.join('?' for _ in COLUMNS)})")
            cursor.execute("BEGIN")
            for batch in synthetic_rows(n, ids, sites, departments):
                cursor.executemany(sql, [
                    row[:6] + tuple(d.isoformat() if d else None for d in row[6:])
                    for row in batch])
            cursor.execute("COMMIT")
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def fill_postgres(app, n, ids, sites, departments):
    from campaign.extensions import db

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            with raw.cursor() as cursor:
                with cursor.copy(f"COPY signatures ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for batch in synthetic_rows(n, ids, sites, departments):
                        for row in batch:
                            copy.write_row(row)
            raw.commit()
            # index-only scans need the visibility map; autovacuum would get there later
            raw.driver_connection.autocommit = True
            with raw.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE signatures")
        finally:
            raw.close()


def pg_database(server_url, name):
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def pg_drop(server_url, name):
    from sqlalchemy import create_engine, text

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def is_filled(app, n):
    from sqlalchemy import func, inspect, select

    from campaign.extensions import db
    from campaign.models import Signature

    with app.app_context():
        if "signatures" not in inspect(db.engine).get_table_names():
            return False
        return db.session.execute(select(func.count()).select_from(Signature)).scalar() == n


# --- measuring (in a fresh process) ---------------------------------------------------------------

def measure(url, repeat):
    """Time the tally, a release and an export of the big petition; print one JSON line."""
    from sqlalchemy import delete, select

    from campaign.extensions import db
    from campaign.models import Petition, TallyRelease
    from campaign.services import exports, tallies

    app = make_app(url)
    with app.app_context():
        petition = db.session.execute(select(Petition).where(Petition.slug == "p0")).scalar_one()
        db.session.execute(delete(TallyRelease))  # releases of earlier runs (other keys)
        db.session.commit()
        petition = db.session.execute(select(Petition).where(Petition.slug == "p0")).scalar_one()
        _units = petition.campaign.units  # loaded once, as a page would

        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            tally = tallies.compute(petition)
            times.append(time.perf_counter() - start)
        groups = len(tallies.count_rows(petition))

        tracemalloc.start()
        tallies.compute(petition)
        _current, heap_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        start = time.perf_counter()
        outcome = tallies.take_release(petition, kind="scheduled")
        release_time = time.perf_counter() - start
        start = time.perf_counter()
        exported = exports.export_release(outcome.release, by="site,department", period="week",
                                          fmt="csv", lang="fr", french_csv=True)
        export_time = time.perf_counter() - start
        db.session.rollback()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "counted": tally.true_total, "groups": groups, "tally_first": times[0],
        "tally_best": min(times), "release": release_time, "export": export_time,
        "export_bytes": len(exported.content), "heap_peak_mb": heap_peak / 2**20,
        "maxrss_mb": maxrss_mb,
    }))


def run(label, url, n, repeat, fill, keep):
    app = make_app(url)
    if keep and is_filled(app, n):
        print(f"{label}: reusing {n:,} signatures already there")
    else:
        start = time.perf_counter()
        ids, sites, departments = build_schema(app)
        fill(app, n, ids, sites, departments)
        print(f"{label}: filled {n:,} signatures in {time.perf_counter() - start:.1f} s")
    with app.app_context():
        from campaign.extensions import db

        db.engine.dispose()
    command = [sys.executable, __file__, "--measure", url, "--repeat", str(repeat)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT,  # noqa: S603
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{label}: {result['counted']:,} counted signatures on the big petition, "
          f"{result['groups']:,} groups (site x department x day)")
    print(f"  tally (site, department, week)  best {result['tally_best']:.3f} s   "
          f"first {result['tally_first']:.3f} s")
    print(f"  release (tally + check + ledger) {result['release']:.3f} s")
    print(f"  export (CSV, French option)      {result['export']:.3f} s   "
          f"{result['export_bytes']:,} bytes")
    print(f"  peak memory: Python heap during a tally {result['heap_peak_mb']:.1f} MB; "
          f"process max RSS {result['maxrss_mb']:.0f} MB")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="SQLite file to fill (default: a temporary file)")
    parser.add_argument("--postgres", default=None,
                        help=f"PostgreSQL server URL (default: {DEFAULT_PG}, if reachable)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true",
                        help="keep the filled databases, and reuse them when already filled")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.repeat)
        return

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, n={args.n:,}")
    if not args.no_sqlite:
        path = Path(args.sqlite or Path(tempfile.mkdtemp()) / "tally-bench.sqlite3")
        run("SQLite", f"sqlite:///{path}", args.n, args.repeat, fill_sqlite, args.keep)
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not args.no_postgres:
        server = args.postgres or DEFAULT_PG
        try:
            url = pg_database(server, PG_BENCH_DB)
        except Exception as error:  # noqa: BLE001 - any connection failure means "skip"
            print(f"PostgreSQL: skipped ({type(error).__name__})")
            return
        try:
            run("PostgreSQL", url, args.n, args.repeat, fill_postgres, args.keep)
        finally:
            if not args.keep:
                pg_drop(server, PG_BENCH_DB)


if __name__ == "__main__":
    main()
