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


def set_security_headers(response):
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        # Production only: the flag that makes cookies HTTPS-only also pins the site to HTTPS.
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if request.endpoint == "static" and response.status_code in (200, 304):
        headers.setdefault("Cache-Control", "public, max-age=86400")
    else:
        # Pages may show personal data or a CSRF token: never keep them in a shared cache.
        headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
        response.vary.add("Accept-Language")
    return response
