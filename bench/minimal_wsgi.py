"""The baseline of bench/signing_throughput.py: a minimal Flask + Flask-SQLAlchemy app served the
same way, with one INSERT and COMMIT per POST /insert and a hello-world GET /hello.

Same database set-up as the application (SQLite in WAL mode, synchronous=NORMAL, a busy timeout,
and BEGIN IMMEDIATE for the write), so the ratio measures the application, not the database.
The database URL comes from BENCH_MINIMAL_DATABASE_URL; the table is created by the bench.
"""

import os
from datetime import date

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Date, String, event
from sqlalchemy.orm import Mapped, mapped_column

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BENCH_MINIMAL_DATABASE_URL"]
db = SQLAlchemy(app)


class Entry(db.Model):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    created_on = mapped_column(Date)


with app.app_context():
    engine = db.engine
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 15000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


@app.post("/insert")
def insert():
    db.session.add(Entry(name=request.form.get("name", "")[:120], created_on=date.today()))
    db.session.commit()
    return "ok"


@app.get("/hello")
def hello():
    return "hello"
