"""WSGI entry points for the load and fault checks: the real app in production configuration, and a
hello-world baseline served by the same gunicorn settings.

    gunicorn -c gunicorn.conf.py --pythonpath bench 'burst_wsgi:campaign_app()'
    gunicorn -c gunicorn.conf.py --pythonpath bench 'burst_wsgi:hello_app()'

`campaign_app()` is `config.ProductionConfig` (secrets, DATABASE_URL and everything else from the
environment, like the real service) with three changes, because the checks talk plain HTTP on
loopback instead of HTTPS through a reverse proxy:

- SESSION_COOKIE_SECURE = False and a cookie name without the ``__Host-`` prefix (which requires
  Secure): otherwise a standard HTTP client never sends the session cookie back, and every form
  post fails its CSRF check;
- PREFERRED_URL_SCHEME = "http", so the links in pages point at the server actually used;
- SIGN_RATE_LIMIT from BENCH_SIGN_RATE_LIMIT (default "1000000 per minute"): every simulated
  signer comes from 127.0.0.1, which the real limit would rightly throttle.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: what `campaign_app()` changes from production, printed by the scripts that use it
DEPARTURES = (
    "SESSION_COOKIE_SECURE=False",
    "SESSION_COOKIE_NAME=campaign_session (no __Host- prefix)",
    "PREFERRED_URL_SCHEME=http",
    "SIGN_RATE_LIMIT from BENCH_SIGN_RATE_LIMIT (default 1000000 per minute)",
)


def bench_config():
    """ProductionConfig from the environment, with the plain-HTTP departures listed above."""
    from config import ProductionConfig

    config = ProductionConfig()
    config.SESSION_COOKIE_SECURE = False
    config.SESSION_COOKIE_NAME = "campaign_session"
    config.PREFERRED_URL_SCHEME = "http"
    config.SIGN_RATE_LIMIT = os.environ.get("BENCH_SIGN_RATE_LIMIT", "1000000 per minute")
    return config


def campaign_app():
    from campaign import create_app

    return create_app(bench_config())


HELLO_PAGE = (
    '<!doctype html><html lang="en"><title>hello</title>'
    '<form method="post"><input type="hidden" name="csrf_token" value="{token}">'
    '<button>go</button></form></html>'
)


def hello_app():
    """The smallest Flask app answering the same two requests as a signer (GET the page with a
    token in a session cookie, POST the form): what the machine and gunicorn alone can serve."""
    import secrets

    from flask import Flask, request, session

    app = Flask("hello")
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_hex(32)

    @app.get("/c/<slug>/p/<petition>")
    def page(slug, petition):
        session["token"] = session.get("token") or secrets.token_urlsafe(16)
        return HELLO_PAGE.format(token=session["token"])

    @app.post("/c/<slug>/p/<petition>/sign")
    def sign(slug, petition):
        if request.form.get("csrf_token") != session.get("token"):
            return "bad token", 400
        return "ok"

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app
