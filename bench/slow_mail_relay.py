"""Signing through gunicorn while the mail relay is slow to answer, with the mail sent by the worker
itself after each response and by its sender thread (CAMPAIGN_MAIL_BACKGROUND), in the same run.

    .venv/bin/python bench/slow_mail_relay.py [--signatures 600] [--delay 0.02] [--workers 4]

The relay (aiosmtpd, in a process of its own) answers MAIL, RCPT and DATA each after --delay
seconds, as a relay across the internet does after a round trip; a relay on the same host
answers at once (--delay 0 is printed first, for reference). The real application
(bench/bench_wsgi.py, production configuration, a SQLite file) signs --signatures times from 32
client threads for each setting. Printed: signatures per second, then how many mails the relay
received and how many rows were left in the outbox once the server stopped (a worker empties its
sender's queue when it exits). No time target is asserted: this prints figures.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import signing_throughput as bench  # noqa: E402 - bench/ is this script's folder
from hung_mail_relay import start_app, stored_signatures  # noqa: E402

RELAY = textwrap.dedent("""
    import asyncio, sys, time
    from aiosmtpd.controller import Controller

    DELAY, PORT, COUNT = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    class Relay:
        received = 0

        async def handle_MAIL(self, server, session, envelope, address, options):
            await asyncio.sleep(DELAY)
            envelope.mail_from = address
            return "250 OK"

        async def handle_RCPT(self, server, session, envelope, address, options):
            await asyncio.sleep(DELAY)
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(DELAY)
            Relay.received += 1
            with open(COUNT, "w") as out:
                out.write(str(Relay.received))
            return "250 OK"

    Controller(Relay(), hostname="127.0.0.1", port=PORT).start()
    time.sleep(3600)
""")


def run(args, delay, background, folder):
    run_folder = Path(tempfile.mkdtemp(dir=folder))
    relay_port, count_file = bench.free_port(), run_folder / "received"
    relay = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", RELAY, str(delay), str(relay_port), str(count_file)])
    database = run_folder / "app.sqlite3"
    server = None
    try:
        server, port = start_app(database, relay_port, args.workers, run_folder,
                                 CAMPAIGN_MAIL_BACKGROUND="true" if background else "false")
        bench.run_load(args.workers * 5, 16, bench.Signing(port, "warm"))
        seconds, statuses = bench.run_load(args.signatures, 32, bench.Signing(port, "run"))
    finally:
        if server is not None:
            bench.stop(server)  # SIGTERM: each worker empties its sender's queue first
    time.sleep(0.5)
    received = int(count_file.read_text()) if count_file.exists() else 0
    relay.kill()
    relay.wait()
    signatures, queued = stored_signatures(database)
    bad = sum(1 for status in statuses if status != 200)
    return args.signatures / seconds, bad, signatures, received, queued


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signatures", type=int, default=600)
    parser.add_argument("--delay", type=float, default=0.02,
                        help="seconds the relay takes to answer MAIL, RCPT and DATA each")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    args.signatures = max(1, min(args.signatures, 5000))  # bounded whatever is asked
    args.delay = max(0.0, min(args.delay, 1.0))
    folder = Path(tempfile.mkdtemp(prefix="slow-relay-"))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.workers} gunicorn "
          f"workers, 32 client threads, {args.signatures} signatures per line")
    try:
        for delay, background, caption in (
                (0.0, True, "relay answering at once, sender thread"),
                (args.delay, False, f"relay at {args.delay * 1000:.0f} ms a command, "
                                    "the worker sends"),
                (args.delay, True, f"relay at {args.delay * 1000:.0f} ms a command, "
                                   "sender thread")):
            rate, bad, signatures, received, queued = run(args, delay, background, folder)
            print(f"  {caption:48s} {rate:7.1f} signatures/s"
                  + (f" ({bad} not 200!)" if bad else "")
                  + f"; stored {signatures}, mails received {received}, "
                    f"left in the outbox {queued}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
