"""Response headers, deny-by-default routing and log redaction, applied to every request."""

from flask import current_app, request

from . import logs
from .access import enforce_classification

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_app(app):
    logs.install(app)
    app.before_request(enforce_classification)
    app.after_request(set_security_headers)


#: set on every response, in this order
HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = "max-age=63072000; includeSubDomains"
#: what `response.vary.add("Cookie")` then `.add("Accept-Language")` write on a response that
#: has no Vary header yet (parsing and rewriting the header set costs more than the rest)
VARY_COOKIE_AND_LANGUAGE = "Cookie, Accept-Language"


def set_security_headers(response):
    headers = response.headers
    for name, value in HEADERS:
        headers[name] = value
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Production only: the flag that makes cookies HTTPS-only also pins the site to HTTPS.
        headers["Strict-Transport-Security"] = HSTS
    if request.endpoint == "static" and response.status_code in (200, 304):
        headers.setdefault("Cache-Control", "public, max-age=86400")
    else:
        # Pages may show personal data or a CSRF token: never keep them in a shared cache.
        headers["Cache-Control"] = "no-store"
        if "Vary" in headers:
            response.vary.add("Cookie")
            response.vary.add("Accept-Language")
        else:
            headers["Vary"] = VARY_COOKIE_AND_LANGUAGE
    return response
