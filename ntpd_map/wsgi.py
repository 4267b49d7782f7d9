"""WSGI entry point for production servers: ``gunicorn -w 2 ntpd_map.wsgi:app``."""

from ntpd_map.factory import create_app

app = create_app().server
