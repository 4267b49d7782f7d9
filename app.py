"""Run the dashboard: ``python app.py`` (host, port and everything else from NTPD_* settings)."""

from ntpd_map.factory import create_app

if __name__ == "__main__":
    import threading

    from ntpd_map.config import Settings
    from ntpd_map.store.model import StoreUnavailable

    settings = Settings.from_env()
    app = create_app(settings)
    runtime = app.server.extensions["ntpd_runtime"]
    try:
        simulated = settings.get("NTPD_SIMULATE") == "auto" and runtime.is_simulated()
    except StoreUnavailable:
        simulated = False
    if simulated:  # the demo's simulated units keep reporting, so the map and the wall stay live
        from ntpd_map.ingest.simulate import drive_fleet

        threading.Thread(target=drive_fleet, args=(runtime.store, runtime.region, threading.Event()),
                         kwargs={"seed": settings.int("NTPD_SIM_SEED")}, name="sim-fleet", daemon=True).start()
    print(f"ntpd-map: http://{settings.host}:{settings.port}/  (wall display: /wall)", flush=True)
    app.run(host=settings.host, port=settings.port, debug=False)
