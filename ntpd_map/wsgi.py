"""WSGI entry point: ``gunicorn -k gthread -w 2 --threads 4 --keep-alive 10 ntpd_map.wsgi:app``."""

import logging

from ntpd_map.factory import create_app
from ntpd_map.privacy import install_log_redaction

app = create_app().server
# gunicorn's own loggers have their own handlers: its access log writes query strings (OsmAnd device ids,
# a wall's token) - they pass the same filter as the app's log
for name in ("gunicorn.access", "gunicorn.error"):
    install_log_redaction(logging.getLogger(name))
