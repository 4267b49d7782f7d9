"""Run the dashboard: ``python app.py`` (host, port and everything else from NTPD_* settings)."""

from ntpd_map.factory import create_app

if __name__ == "__main__":
    from ntpd_map.config import Settings

    settings = Settings.from_env()
    app = create_app(settings)
    print(f"ntpd-map: http://{settings.host}:{settings.port}/  (wall display: /wall)", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False)
