"""WSGI entry point: ``gunicorn -k gthread -w 2 --threads 4 --keep-alive 10 ntpd_map.wsgi:app``."""

from ntpd_map.factory import create_app

app = create_app().server
