"""WSGI entry for bench/signing_throughput.py: the real application in production configuration,
with the few changes plain HTTP on loopback needs (gunicorn imports `app`).

Secrets, the database and the mail folder come from the environment the bench sets, identical in
every worker, like the real service. Changes from `config.ProductionConfig`: cookies without
Secure and without the ``__Host-`` prefix (a plain-HTTP client would never send them back, and
every form would fail its CSRF check), http links, and signing / link rate limits raised so one
loopback client can sign thousands of times.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaign import create_app  # noqa: E402
from config import ProductionConfig  # noqa: E402


class BenchConfig(ProductionConfig):
    ENV_NAME = "bench"

    def __init__(self):
        super().__init__()
        self.SESSION_COOKIE_SECURE = False
        self.SESSION_COOKIE_NAME = "campaign_session"
        self.PREFERRED_URL_SCHEME = "http"
        self.SIGN_RATE_LIMIT = "1000000 per minute"
        self.LINK_RATE_LIMIT = "1000000 per minute"


app = create_app(BenchConfig())
