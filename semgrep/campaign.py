# ruff: noqa
# Self-test fixtures for semgrep/campaign.yml (`semgrep --test semgrep/`): each `ruleid:` line
# names the rule that must fire on the next line, each `ok:` line a rule that must not. This file
# is never imported.
import hashlib
import logging

import jinja2
import sqlalchemy
from flask import Flask, current_app, render_template_string, request
from markupsafe import Markup, escape
from sqlalchemy import text

from campaign.extensions import db
from campaign.crypto import keyed_hash

logger = logging.getLogger(__name__)
app = Flask(__name__)


def templates(name, env):
    # ruleid: render-template-string-with-variable
    render_template_string(f"<p>Hello {name}</p>")
    source = "<p>" + name + "</p>"
    # ruleid: render-template-string-with-variable
    render_template_string(source, name=name)
    # ruleid: render-template-string-with-variable
    env.from_string(source)
    # ruleid: render-template-string-with-variable
    jinja2.Template(source)
    # ok: render-template-string-with-variable
    render_template_string("<p>Hello {{ name }}</p>", name=name)
    # ok: render-template-string-with-variable
    env.from_string("{{ value }}")


def sql(slug, table, value):
    # ruleid: sql-text-built-from-strings
    db.session.execute(text(f"SELECT * FROM campaigns WHERE slug = '{slug}'"))
    # ruleid: sql-text-built-from-strings
    db.session.execute(text("SELECT * FROM campaigns WHERE slug = '%s'" % slug))
    # ruleid: sql-text-built-from-strings
    db.session.execute(text("SELECT * FROM {} WHERE id = 1".format(table)))
    # ruleid: sql-text-built-from-strings
    db.session.execute(sqlalchemy.text("SELECT * FROM campaigns WHERE slug = '" + slug + "'"))
    # ruleid: sql-text-built-from-strings
    db.session.execute(db.text(f"DELETE FROM {table}"))
    query = f"SELECT * FROM campaigns WHERE slug = '{slug}'"
    # ruleid: sql-text-built-from-strings
    db.session.execute(text(query))
    # ok: sql-text-built-from-strings
    db.session.execute(text("SELECT * FROM campaigns WHERE slug = :slug"), {"slug": slug})
    # ok: sql-text-built-from-strings
    db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": value})


@app.get("/logs")
def logs():
    # ruleid: log-client-identifying-request-data
    logger.info("visit from %s", request.remote_addr)
    address = request.access_route[-1]
    # ruleid: log-client-identifying-request-data
    current_app.logger.warning(f"forwarded for {address}")
    agent = request.user_agent.string
    # ruleid: log-client-identifying-request-data
    logging.error("agent %s", agent)
    # ruleid: log-client-identifying-request-data
    logger.debug("headers %r", dict(request.headers))
    # ruleid: log-client-identifying-request-data
    logger.info("referrer %s", request.headers.get("Referer"))
    # ruleid: log-client-identifying-request-data
    print(request.environ.get("REMOTE_ADDR"))
    # ok: log-client-identifying-request-data
    logger.info("rate limit key %s", keyed_hash(request.remote_addr or "", purpose="rate"))
    # ok: log-client-identifying-request-data
    logger.info("digest %s", hashlib.sha256(request.remote_addr.encode()).hexdigest())
    # ok: log-client-identifying-request-data
    logger.info("form refused on %s", request.endpoint)
    return "ok"


def markup(user_text, note):
    # ruleid: markup-on-variable
    Markup(user_text)
    # ruleid: markup-on-variable
    Markup(f"<b>{user_text}</b>")
    # ruleid: markup-on-variable
    Markup("<b>" + user_text + "</b>")
    # ruleid: markup-on-variable
    Markup(note.body)
    # ok: markup-on-variable
    Markup("<br>")
    # ok: markup-on-variable
    Markup("<b>{}</b>").format(user_text)
    # ok: markup-on-variable
    Markup("<b>%s</b>") % user_text
    # ok: markup-on-variable
    escape(user_text)
    # ok: markup-on-variable
    Markup(user_text)  # nosemgrep: markup-on-variable -- an annotated, reviewed exception
