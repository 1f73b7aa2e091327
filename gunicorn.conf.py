"""Gunicorn settings for production, read from the project root:

    CAMPAIGN_ENV=production gunicorn -c gunicorn.conf.py 'campaign:create_app()'

Several worker processes, a loopback bind for a reverse proxy that terminates TLS, and an access
log that cannot say who took part: no client address, no query string (private-link tokens), no
referrer, no user agent, no request header of any kind.
"""

import gc
import multiprocessing
import os

# The WSGI entry point; a command-line argument takes precedence.
wsgi_app = "campaign:create_app()"

# Where to listen: loopback, for the reverse proxy on the same host ("unix:/run/campaign.sock"
# works too). Several addresses may be given, separated by commas.
bind = [address.strip() for address in
        os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if address.strip()]

# Processes, not threads: each worker has its own app and its own database connection pool.
# Two per core: a signature is CPU work (about 3 ms here) that waits little on anything, and
# past two busy workers per core they take turns on the cores in the middle of requests, each
# turn costing the next one its caches (and, on SQLite, holding the write lock longer): on the
# 2-core test machine 5 workers signed 5 to 12 % fewer per second than 4, and a page did no
# better (bench/signing_throughput.py --workers 4 / 5, docs/benchmarks.md, session 12).
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2)
worker_class = "sync"
threads = 1
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (bounded memory), staggered so they never restart all at once.
max_requests = 2000
max_requests_jitter = 200
# Never load the app before forking: database connections must not be shared between processes,
# and a refused configuration (missing secret) then stops every worker, so gunicorn exits.
preload_app = False


def post_worker_init(worker):
    """Once a worker has loaded the application, hand everything made so far (modules, the app,
    its extensions, their caches: objects that live as long as the worker) to the garbage
    collector's permanent generation. Every full collection walked them all again, about 80 ms
    each on the test machine, once every couple of thousand signatures; now it walks only what
    requests made since."""
    gc.freeze()


# Behind a reverse proxy. Gunicorn trusts X-Forwarded-Proto (to know the request came over
# HTTPS: secure cookies, HSTS, CSRF referrer check) only from these addresses: the proxy's own,
# comma separated, or "*" when gunicorn listens on a Unix socket only the proxy can reach.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Logs go to standard output / error (journald or the container runtime collects them).
# %(t)s time, %(m)s method, %(U)s path WITHOUT query string, %(s)s status, %(b)s bytes,
# %(L)s duration in seconds. Deliberately absent: %(h)s client address, %(r)s request line and
# %(q)s query string (both carry tokens), %(f)s referrer, %(a)s user agent, %({header}i)s.
accesslog = "-"
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s'
errorlog = "-"
# "debug" would log request details; never use it in production.
loglevel = "info"
capture_output = False

proc_name = "campaign"
# No runtime control socket in the home directory: nothing to manage that systemd cannot.
control_socket_disable = True
