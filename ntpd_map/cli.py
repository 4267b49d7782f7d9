"""Command line: ``python -m ntpd_map COMMAND ...`` (every command has --help)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ntpd_map.config import Settings


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def cmd_boundaries_build(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.geo.boundaries import build_region, resolve_region_code

    code = resolve_region_code(args.code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                               allow_download=settings.allow_download)
    region = build_region(code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                          allow_download=settings.allow_download)
    _print_json(region.summary())
    return 0


def cmd_boundaries_show(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.geo.boundaries import load_region, resolve_region_code

    code = resolve_region_code(args.code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                               allow_download=settings.allow_download)
    region = load_region(code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                         allow_download=settings.allow_download)
    summary = region.summary()
    if args.json:
        _print_json(summary)
    else:
        print(f"{summary['code']} {summary['name']}: {summary['kecamatan']} kecamatan, "
              f"{summary['desa']} desa/kelurahan ({summary['desa_with_polygon']} with polygon)")
        for d in summary.get("desa_without_polygon", []):
            print(f"  no polygon upstream: {d['kode']} {d['nama']} (placed at a centroid point)")
    return 0


def cmd_boundaries_import(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.geo.userfile import boundaries_from_user_file

    frame = boundaries_from_user_file(args.file, level=args.level, code_column=args.code_column,
                                      name_column=args.name_column, layer=args.layer)
    settings.boundaries_dir.mkdir(parents=True, exist_ok=True)
    out = settings.boundaries_dir / f"user_{args.level}.gpkg"
    frame.to_file(out, layer=args.level, driver="GPKG")
    _print_json({"level": args.level, "features": len(frame), "written": str(out)})
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.runtime import Runtime
    from ntpd_map.simulate import load_scenario

    runtime = Runtime(settings)
    region = runtime.region_for(args.region or settings.region)
    locator = runtime.locator_for(region)
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC) if args.end else None
    summary = load_scenario(runtime.store, region, locator, days=args.days, seed=args.seed, end=end)
    _print_json(summary)
    return 0


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.store import open_store

    store = open_store(settings.database_url)
    _print_json({"backend": store.backend, "schema_version": store.migrate()})
    return 0


def cmd_db_info(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.runtime import Runtime

    store = Runtime(settings).store
    _print_json({
        "backend": store.backend,
        "schema_version": store.schema_version(),
        "incidents": store.count_incidents(),
        "scenario": store.get_meta("scenario") or "real",
        "data_version": store.data_version(),
    })
    return 0


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    from ntpd_map.config import SETTINGS

    for s in SETTINGS:
        print(f"{s.name}={settings.get(s.name)!s}    # {s.help}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ntpd_map", description="ntpd-map: NTPD 112 GIS dashboard tools")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("boundaries", help="build and inspect region boundaries from the upstream data").add_subparsers(
        dest="action", required=True)
    p = b.add_parser("build", help="build (or rebuild) a region's boundaries and cache them as GeoPackage")
    p.add_argument("code", help="Kemendagri code of a kab/kota (53.03) or provinsi (35), or a kab/kota name")
    p.set_defaults(func=cmd_boundaries_build)
    p = b.add_parser("show", help="summarise a region: kecamatan, desa, desa with polygon")
    p.add_argument("code", help="Kemendagri code or name of the region")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_boundaries_show)
    p = b.add_parser("import", help="import your own boundary file (GeoPackage, GeoJSON, Shapefile)")
    p.add_argument("file", help="path of the file")
    p.add_argument("--level", choices=["kabkota", "kecamatan", "desa"], required=True, help="what the features are")
    p.add_argument("--code-column", required=True, help="column holding the Kemendagri code")
    p.add_argument("--name-column", required=True, help="column holding the name")
    p.add_argument("--layer", help="layer to read (GeoPackage with several layers)")
    p.set_defaults(func=cmd_boundaries_import)

    p = sub.add_parser("simulate", help="write a deterministic, labelled SIMULATED scenario into the store")
    p.add_argument("--region", help="region code (default NTPD_REGION)")
    p.add_argument("--days", type=int, default=150, help="days of history (default 150)")
    p.add_argument("--seed", type=int, default=1, help="random seed: same seed, same scenario (default 1)")
    p.add_argument("--end", help="end of the scenario, UTC ISO time (default: now, to the minute)")
    p.set_defaults(func=cmd_simulate)

    d = sub.add_parser("db", help="store maintenance").add_subparsers(dest="action", required=True)
    p = d.add_parser("migrate", help="apply pending schema migrations")
    p.set_defaults(func=cmd_db_migrate)
    p = d.add_parser("info", help="backend, schema version, incident count, whether the data is simulated")
    p.set_defaults(func=cmd_db_info)

    p = sub.add_parser("settings", help="print every setting with its current value and help")
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    from ntpd_map.store.base import StoreUnavailable

    try:
        return int(args.func(args, settings))
    except (ValueError, FileNotFoundError, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
