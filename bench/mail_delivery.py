"""What handing a message to the mail server costs the worker: a new connection per message
against the connection kept for the next one (`MAIL_KEEP_SECONDS`), with and without STARTTLS.

    .venv/bin/python bench/mail_delivery.py [--messages 300]

A real SMTP server on loopback (aiosmtpd, in a thread of this process; STARTTLS with a
self-signed certificate made for the run and trusted through SSL_CERT_FILE) receives
--messages messages through `campaign.mail.send_raw`, as a request's delivery sends them. It
prints, per message, the sending thread's CPU time (the server's own work is in another thread
and not counted) and the elapsed time, and the ratios kept / new. No target is asserted.
"""

import argparse
import datetime
import ipaddress
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from signing_throughput import free_port  # noqa: E402 - bench/ is this script's folder

from campaign import create_app, mail  # noqa: E402
from config import TestingConfig  # noqa: E402


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.count += 1
        return "250 OK"


def self_signed(folder):
    """A certificate and key for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
            "127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def measure(port, messages, *, starttls, keep):
    config = TestingConfig(database_url="sqlite://")
    config.MAIL_SERVER, config.MAIL_PORT = "127.0.0.1", port
    config.MAIL_STARTTLS, config.MAIL_USERNAME = starttls, None
    config.MAIL_KEEP_SECONDS = keep
    app = create_app(config)
    with app.app_context():
        raws = [bytes(mail.build_message(f"reader{number}@personal.example", "Your private link",
                                         "Your private link: http://127.0.0.1/s/x\n"))
                for number in range(messages)]
        mail.close_connection()
        cpu, wall = time.thread_time(), time.perf_counter()
        for raw in raws:
            mail.send_raw(raw)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        mail.close_connection()
    return cpu / messages * 1e6, wall / messages * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    from aiosmtpd.controller import Controller

    folder = Path(tempfile.mkdtemp())
    cert_path, key_path = self_signed(folder)
    os.environ["SSL_CERT_FILE"] = str(cert_path)  # read by ssl.create_default_context()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path, key_path)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), tls_context=tls)
    controller.start()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.messages} messages "
          "per measure, a loopback aiosmtpd server")
    try:
        for starttls in (False, True):
            results = {}
            for keep, caption in ((0, "a new connection each"), (5.0, "the connection kept")):
                before = sink.count
                results[keep] = measure(controller.port, args.messages, starttls=starttls,
                                        keep=keep)
                delivered = sink.count - before
                cpu, wall = results[keep]
                print(f"  {'STARTTLS' if starttls else 'plain':8s} {caption:22s} "
                      f"{cpu:7.0f} us CPU, {wall:6.2f} ms elapsed per message"
                      + ("" if delivered == args.messages else
                         f"   ({delivered} of {args.messages} delivered!)"))
            print(f"  {'':8s} kept / new: CPU {results[5.0][0] / results[0][0]:.2f}, "
                  f"elapsed {results[5.0][1] / results[0][1]:.2f}")
    finally:
        controller.stop()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
