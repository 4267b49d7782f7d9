"""Command line: ``.venv/bin/python -m ntpd_map COMMAND ...`` (every command has --help)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ntpd_map import audit
from ntpd_map.access.cli import add_parsers as add_account_parsers
from ntpd_map.analytics.periods import period, window_text
from ntpd_map.analytics.proposal import filename, to_csv, to_xlsx
from ntpd_map.analytics.recap import recap
from ntpd_map.audit import ACTIONS, cli_actor
from ntpd_map.briefing import Period, build, pdf, xlsx
from ntpd_map.config import SETTINGS, Settings
from ntpd_map.domain import AgencyKind, Unit, UnitStatus
from ntpd_map.geo.boundaries import build_region, load_region
from ntpd_map.geo.codes import normalise_code, resolve_region_code
from ntpd_map.geo.signal import STATUS_HINT, mark_from_fields, sample_class, status_from_text
from ntpd_map.geo.userfile import boundaries_from_user_file
from ntpd_map.http.coverage import change_records, change_row
from ntpd_map.ingest.blankspots import marks_from_table
from ntpd_map.ingest.files import table_from_file, write_rejects_csv
from ntpd_map.ingest.opencellid import LICENSE, rows_from_file, towers_from_rows
from ntpd_map.ingest.population import population_from_table, reason_counts
from ntpd_map.ingest.positions import device_id
from ntpd_map.ingest.records import incidents_from_table
from ntpd_map.ingest.simulate import REPORTED, load_scenario
from ntpd_map.ingest.survey import samples_from_table
from ntpd_map.ingest.write import write_batch
from ntpd_map.privacy import install_log_redaction
from ntpd_map.runtime import Runtime
from ntpd_map.store import open_store
from ntpd_map.store.model import StoreUnavailable, UnknownChange
from ntpd_map.views import zone_label


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _audit(store: Any, action: str, target: str | None = None, **detail: Any) -> None:
    """Record a change a command made in the audit log (issue 8), by ``cli:<os user>``. Counts and ids only:
    never a caller's number or text from a call."""
    audit.record(store, audit.cli_actor(), action, target, **detail)


def _import_counts(path: Any, rows: int, written: Any, rejected: int) -> dict[str, Any]:
    """What every import.* entry carries: the file's base name and how its rows ended up."""
    return {"file": path.name, "rows": rows, "inserted": written.inserted, "updated": written.updated,
            "duplicates": written.unchanged, "rejected": rejected}


def cmd_boundaries_build(args: argparse.Namespace, settings: Settings) -> int:
    code = resolve_region_code(args.code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                               allow_download=settings.allow_download)
    region = build_region(code, search_dirs=settings.mirror_dirs, cache_dir=settings.boundaries_dir,
                          allow_download=settings.allow_download)
    _print_json(region.summary())
    return 0


def cmd_boundaries_show(args: argparse.Namespace, settings: Settings) -> int:
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
    frame = boundaries_from_user_file(args.file, level=args.level, code_column=args.code_column,
                                      name_column=args.name_column, layer=args.layer)
    settings.boundaries_dir.mkdir(parents=True, exist_ok=True)
    out = settings.boundaries_dir / f"user_{args.level}.gpkg"
    frame.to_file(out, layer=args.level, driver="GPKG")
    _print_json({"level": args.level, "features": len(frame), "written": str(out)})
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime(settings)
    region = runtime.region_for(args.region or settings.region)
    locator = runtime.locator_for(region)
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC) if args.end else None
    summary = load_scenario(runtime.store, region, locator, days=args.days, seed=args.seed, end=end,
                            actor=cli_actor(), reported=REPORTED[args.reported] if args.reported else None)
    _print_json(summary)
    return 0


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings.database_url)
    _print_json({"backend": store.backend, "schema_version": store.migrate()})
    return 0


def cmd_db_info(args: argparse.Namespace, settings: Settings) -> int:
    store = Runtime(settings).store
    _print_json({
        "backend": store.backend,
        "schema_version": store.schema_version(),
        "incidents": store.count_incidents(),
        "scenario": store.get_meta("scenario") or "real",
        "data_version": store.data_version(),
    })
    return 0


def cmd_import_incidents(args: argparse.Namespace, settings: Settings) -> int:
    if args.tz:
        settings = Settings.from_env(tz=args.tz)
    runtime = Runtime(settings)
    path = Path(args.file)
    column_map = dict(_pair(m) for m in args.map or [])
    table = table_from_file(path)
    source = args.source or f"file:{path.name}"
    batch = incidents_from_table(table, source=source, tz=settings.tz, region=runtime.region,
                                 caller_key=runtime.secret_key, column_map=column_map)
    result = write_batch(runtime, batch, source=source)
    result["rows"] = len(table)
    if batch.rejects:
        rejects_path = path.with_name(f"{path.stem}.rejected.csv")
        write_rejects_csv(batch.rejects, rejects_path)
        result["rejects_file"] = str(rejects_path)
    result.pop("errors")
    result["reasons"] = batch.summary().get("reasons", {})
    _audit(runtime.store, "import.incidents", source, file=path.name, rows=len(table), batch=result["batch"],
           inserted=result["inserted"], updated=result["updated"], duplicates=result["duplicates"],
           rejected=result["rejected"])
    _print_json(result)
    return 0


def cmd_import_population(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime(settings)
    path = Path(args.file)
    table = table_from_file(path)
    source = args.source or f"file:{path.name}"
    figures, rejects, skipped = population_from_table(table, runtime.region, year=args.year, source=source)
    written = runtime.store.set_population(figures)
    result: dict[str, Any] = {
        "file": str(path),
        "region": runtime.region.code,
        "rows": len(table),
        "accepted": len(figures),
        "inserted": written.inserted,
        "updated": written.updated,
        "unchanged": written.unchanged,
        "rejected": len(rejects),
        "skipped_other_region": skipped,
        "blank_rows": len(table) - len(figures) - len(rejects) - skipped,
        "rejects_file": None,
        "reasons": reason_counts(rejects),
    }
    if rejects:
        runtime.store.add_rejects(f"population:{source}:{uuid.uuid4().hex[:12]}", rejects)
        rejects_path = path.with_name(f"{path.stem}.rejected.csv")
        write_rejects_csv(rejects, rejects_path)
        result["rejects_file"] = str(rejects_path)
    _audit(runtime.store, "import.population", source, **_import_counts(path, len(table), written, len(rejects)))
    _print_json(result)
    return 0


def _keep_rejects(runtime: Any, kind: str, source: str, path: Any, rejects: list[dict[str, Any]]) -> str | None:
    """Keep rejected rows in the store and beside the file (<name>.rejected.csv); the file's path, or None."""
    if not rejects:
        return None
    runtime.store.add_rejects(f"{kind}:{source}:{uuid.uuid4().hex[:12]}", rejects)
    stem = path.name.removesuffix(".gz").rsplit(".", 1)[0]
    return str(write_rejects_csv(rejects, path.with_name(f"{stem}.rejected.csv")))


def cmd_import_opencellid(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime(settings)
    path = Path(args.file)
    default = float(args.default_range or settings.get("NTPD_TOWER_DEFAULT_RANGE_M"))
    names, rows = rows_from_file(path)
    parsed = towers_from_rows(names, rows, runtime.region, default_range_m=default, source=args.source)
    written = runtime.store.add_towers(parsed.towers)
    rejects_file = _keep_rejects(runtime, "opencellid", args.source, path, parsed.rejects)
    _audit(runtime.store, "import.opencellid", args.source,
           **_import_counts(path, parsed.rows, written, len(parsed.rejects)))
    towers = runtime.store.towers()
    _print_json({
        "file": str(path), "region": runtime.region.code, "source": args.source, "rows": parsed.rows,
        "accepted": len(parsed.towers), "inserted": written.inserted, "updated": written.updated,
        "unchanged": written.unchanged, "rejected": len(parsed.rejects),
        "skipped_other_mcc": parsed.skipped_other_mcc, "skipped_outside_region": parsed.skipped_outside_region,
        "kept_beyond_border": parsed.kept_beyond_border, "without_range": parsed.without_range,
        "default_range_m": default, "rejects_file": rejects_file,
        "reasons": reason_counts(parsed.rejects), "towers_in_store": len(towers),
        "simulated_towers_in_store": int(towers["simulated"].sum()), "license": LICENSE,
    })
    return 0


def cmd_import_survey(args: argparse.Namespace, settings: Settings) -> int:
    if args.tz:
        settings = Settings.from_env(tz=args.tz)
    runtime = Runtime(settings)
    path = Path(args.file)
    table = table_from_file(path)
    source = args.source or f"survey:{path.name}"
    parsed = samples_from_table(table, runtime.region, runtime.locator, tz=settings.tz, source=source)
    written = runtime.store.add_signal_samples(parsed.samples)
    rejects_file = _keep_rejects(runtime, "survey", source, path, parsed.rejects)
    _audit(runtime.store, "import.survey", source, **_import_counts(path, len(table), written, len(parsed.rejects)))
    classes = [sample_class(s.dbm, s.bars) for s in parsed.samples]
    _print_json({
        "file": str(path), "region": runtime.region.code, "source": source, "rows": len(table),
        "accepted": len(parsed.samples), "inserted": written.inserted, "updated": written.updated,
        "unchanged": written.unchanged, "rejected": len(parsed.rejects), "blank_rows": parsed.blank_rows,
        "no_signal": classes.count("none"), "very_weak": classes.count("weak"),
        "desa": len({s.kode_desa for s in parsed.samples if s.kode_desa}), "rejects_file": rejects_file,
        "reasons": reason_counts(parsed.rejects),
    })
    return 0


def cmd_import_blankspots(args: argparse.Namespace, settings: Settings) -> int:
    status = status_from_text(args.status)
    if status is None:
        raise ValueError(f"--status {args.status!r} is not one of {STATUS_HINT}")
    runtime = Runtime(settings)
    path = Path(args.file)
    table = table_from_file(path)
    author = f"import:{path.name}"
    parsed = marks_from_table(table, runtime.region, author=author, default_status=status)
    marked = runtime.store.add_coverage_marks(parsed.marks, skip_unchanged=True)
    rejects_file = _keep_rejects(runtime, "blankspots", author, path, parsed.rejects)
    # a mark appended is a new row of the trail (inserted); a mark equal to the desa's current one is a duplicate
    _audit(runtime.store, "import.blankspots", author, file=path.name, rows=len(table), inserted=marked, updated=0,
           duplicates=len(parsed.marks) - marked, rejected=len(parsed.rejects))
    _print_json({
        "file": str(path), "region": runtime.region.code, "author": author, "rows": len(table),
        "accepted": len(parsed.marks), "marked": marked, "unchanged": len(parsed.marks) - marked,
        "rejected": len(parsed.rejects), "skipped_other_region": parsed.skipped_other_region,
        "blank_rows": parsed.blank_rows, "rejects_file": rejects_file,
        "reasons": reason_counts(parsed.rejects),
    })
    return 0


def cmd_export_bts_proposal(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"--out {out.name}: name the file .xlsx or .csv")
    runtime = Runtime(settings)
    date_from, date_to, start, end = period({"from": args.date_from, "to": args.date_to}, settings.tz)
    made = runtime.analytics.bts_proposal(start, end)
    if fmt == "csv":
        body = to_csv(made)
    else:
        generated = datetime.now(ZoneInfo(settings.tz)).strftime("%d/%m/%Y %H:%M")
        body = to_xlsx(made, window_text(date_from, date_to, runtime.zone), f"{generated} {runtime.zone}")
    if made.simulated and "SIMULASI" not in out.name:
        out = out.with_name(f"{out.stem}_SIMULASI{out.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    _print_json({"written": str(out), "rows": len(made.rows), "from": date_from.isoformat(),
                 "to": date_to.isoformat(), "simulated": made.simulated, "towers_known": made.towers_known,
                 "suggested_name": filename(made, date_from, date_to, fmt)})
    return 0


def cmd_coverage_mark(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime(settings)
    fields = {"kode_desa": args.desa, "h3": args.h3, "status": args.status, "operators": args.operators,
              "surveyed_on": args.surveyed_on, "evidence": args.evidence}
    mark = mark_from_fields(runtime.region, fields, args.author)
    change = runtime.store.mark_coverage(mark)
    _audit(runtime.store, "coverage.mark", mark.kode_desa, change=change, h3=mark.h3, status=str(mark.status),
           author=mark.author)
    _print_json({"id": change, "kode_desa": mark.kode_desa, "h3": mark.h3, "status": str(mark.status),
                 "author": mark.author})
    return 0


def cmd_coverage_undo(args: argparse.Namespace, settings: Settings) -> int:
    store = Runtime(settings).store
    try:
        change = store.undo_coverage_change(args.id, args.author)
    except UnknownChange as exc:
        raise ValueError(f"{exc} (see: .venv/bin/python -m ntpd_map coverage history)") from None
    row = change_row(store, change) or {}
    _audit(store, "coverage.undo", row.get("kode_desa"), change=change, undoes=args.id, h3=row.get("h3"),
           status=row.get("status"), author=args.author.strip())
    _print_json({"id": change, "undoes": args.id, "author": args.author})
    return 0


def cmd_coverage_history(args: argparse.Namespace, settings: Settings) -> int:
    desa = normalise_code(args.desa) if args.desa else None
    _print_json(change_records(Runtime(settings).store.coverage_history(desa, limit=args.limit)))
    return 0


def _pair(text: str) -> tuple[str, str]:
    column, sep, field = text.partition("=")
    if not sep or not column.strip() or not field.strip():
        raise ValueError(f"--map {text!r}: write it as COLUMN=field, e.g. --map 'No. Tiket=id'")
    return column.strip(), field.strip()


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: (None if v != v else v) for k, v in row.items()} for row in frame.to_dict("records")]


def cmd_units_add(args: argparse.Namespace, settings: Settings) -> int:
    device = device_id(args.device)
    if not args.name.strip() or not args.agency.strip():
        raise ValueError("--name and --agency must not be empty")
    store = Runtime(settings).store
    known = store.has_unit(device)
    store.upsert_units([Unit(device, args.name.strip(), args.agency.strip(), AgencyKind(args.kind),
                             UnitStatus(args.status))])
    _audit(store, "unit.add", device, added=not known, kind=args.kind, status=args.status)
    _print_json({"device": device, "name": args.name.strip(), "agency": args.agency.strip(), "kind": args.kind,
                 "status": args.status, "updated" if known else "added": True})
    return 0


def cmd_units_list(args: argparse.Namespace, settings: Settings) -> int:
    _print_json(_records(Runtime(settings).store.units()))
    return 0


def cmd_units_status(args: argparse.Namespace, settings: Settings) -> int:
    store = Runtime(settings).store
    if not store.set_unit_status(args.device, args.status):
        raise ValueError(f"no unit has device {args.device!r} (see: .venv/bin/python -m ntpd_map units list)")
    _audit(store, "unit.status", args.device, status=args.status)
    _print_json({"device": args.device, "status": args.status})
    return 0


def cmd_units_remove(args: argparse.Namespace, settings: Settings) -> int:
    store = Runtime(settings).store
    if not store.remove_unit(args.device):
        raise ValueError(f"no unit has device {args.device!r} (see: .venv/bin/python -m ntpd_map units list)")
    _audit(store, "unit.remove", args.device)
    _print_json({"removed": args.device})
    return 0


def cmd_units_unknown(args: argparse.Namespace, settings: Settings) -> int:
    _print_json(_records(Runtime(settings).store.unknown_devices()))
    return 0


def cmd_positions_prune(args: argparse.Namespace, settings: Settings) -> int:
    import time


    days = args.days if args.days is not None else settings.int("NTPD_POSITION_RETENTION_DAYS")
    if days < 1:
        raise ValueError("--days must be at least 1")
    store = Runtime(settings).store
    deleted = store.prune_positions(int(time.time()) - days * 86_400)
    _audit(store, "positions.prune", None, deleted=deleted, older_than_days=days)
    _print_json({"deleted": deleted, "older_than_days": days})
    return 0


def cmd_recap(args: argparse.Namespace, settings: Settings) -> int:
    result = recap(Runtime(settings).store, date.fromisoformat(args.date_from), date.fromisoformat(args.date_to),
                   settings.tz)
    if args.json:
        _print_json(result)
    else:
        g = result["genuine"]
        print(f"{result['from']} .. {result['to']} ({result['tz']}): {result['calls']['total']} calls, "
              f"{g['total']} genuine: {g['resolved']} resolved, {g['not_followed_up']} not followed up, "
              f"{g['open']} open")
        for name, row in g["by_agency"].items():
            print(f"  {name}: {row['total']} ({row['resolved']} resolved, {row['not_followed_up']} not followed up)")
    return 0


def cmd_briefing(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "xlsx"):
        raise ValueError(f"--out {out.name}: name the file .pdf or .xlsx")
    if args.period and (args.date_from or args.date_to):
        raise ValueError("give --period or --from/--to, not both")
    if args.period:
        period = Period.parse(args.period)  # its error names the period and the accepted forms
    elif args.date_from and args.date_to:
        period = Period.custom(date.fromisoformat(args.date_from), date.fromisoformat(args.date_to))
    else:
        raise ValueError("give --from and --to (YYYY-MM-DD, inclusive) or --period (2025-05, 2025-Q2)")
    lang = args.lang or settings.lang
    runtime = Runtime(settings)
    briefing = build(runtime, period)
    if fmt == "pdf":
        body = pdf.render(briefing, runtime.region, lang)
        pages: int | None = pdf.page_count(body)
    else:
        body, pages = xlsx.render(briefing, lang), None
    if briefing.simulated and "SIMULASI" not in out.name:
        out = out.with_name(f"{out.stem}_SIMULASI{out.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    _print_json({"written": str(out), "pages": pages, "bytes": len(body), "period": period.key,
                 "label": period.label(lang), "from": period.first.isoformat(), "to": period.last.isoformat(),
                 "previous": briefing.previous.key, "lang": lang, "simulated": briefing.simulated})
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date, time


    zone = ZoneInfo(settings.tz)
    since = None
    if args.since:
        try:
            day = date.fromisoformat(args.since)
        except ValueError:
            raise ValueError(f"--since {args.since!r}: give a local date as YYYY-MM-DD") from None
        since = int(datetime.combine(day, time(), zone).timestamp())  # the start of that day at the center
    if args.limit < 1:
        raise ValueError("--limit must be at least 1")
    log = Runtime(settings).store.audit_log(since=since, action=args.action, actor=args.actor, limit=args.limit)
    entries = []
    for rec in log.to_dict("records"):
        local = datetime.fromtimestamp(int(rec["at"]), UTC).astimezone(zone)
        detail = rec["detail"]
        entries.append({"id": int(rec["id"]), "at": int(rec["at"]), "time": local.isoformat(),
                        "actor": rec["actor"], "action": rec["action"],
                        "target": rec["target"] if isinstance(rec["target"], str) else None,
                        "detail": json.loads(detail) if isinstance(detail, str) else None})
    if args.json:
        _print_json(entries)
        return 0
    label = zone_label(settings.tz)
    for e in entries:
        facts = " ".join(f"{k}={v}" for k, v in (e["detail"] or {}).items() if v is not None)
        when = datetime.fromisoformat(e["time"]).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{when} {label}  {e['actor']}  {e['action']}  {e['target'] or '-'}  {facts}".rstrip())
    return 0


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    for s in SETTINGS:
        print(f"{s.name}={settings.get(s.name)!s}    # {s.help}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=".venv/bin/python -m ntpd_map",
                                     description="ntpd-map: NTPD 112 GIS dashboard tools")
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
    p.add_argument("--reported", choices=["ttu-2025"],
                   help="instead of --days/--end: a published period's exact totals (ttu-2025: TTU May-September "
                        "2025, 4,428 calls, 167 genuine, 144 resolved, 23 not followed up); the rest is simulated")
    p.set_defaults(func=cmd_simulate)

    d = sub.add_parser("db", help="store maintenance").add_subparsers(dest="action", required=True)
    p = d.add_parser("migrate", help="apply pending schema migrations")
    p.set_defaults(func=cmd_db_migrate)
    p = d.add_parser("info", help="backend, schema version, incident count, whether the data is simulated")
    p.set_defaults(func=cmd_db_info)

    imp = sub.add_parser("import", help="import data files").add_subparsers(dest="what", required=True)
    p = imp.add_parser("incidents", help="import a recap spreadsheet (CSV or XLSX); prints a JSON summary")
    p.add_argument("file", help="path of the .csv or .xlsx file")
    p.add_argument("--tz", help="zone of times without an offset, e.g. Asia/Makassar (default: the center's)")
    p.add_argument("--source", help="name of the source system (default file:<name>); id + source is unique")
    p.add_argument("--map", action="append", metavar="COLUMN=field",
                   help="read your column COLUMN as our field (repeatable), e.g. --map 'No. Tiket=id'")
    p.set_defaults(func=cmd_import_incidents)
    p = imp.add_parser("population", help="import population per kecamatan or desa (CSV or XLSX, e.g. Dukcapil "
                                          "figures); prints a JSON summary")
    p.add_argument("file", help="path of the .csv or .xlsx file: a code column (kode, kode_wilayah, kode_desa, ...) "
                                "and a population column (jumlah_penduduk, penduduk, jumlah, population, total)")
    p.add_argument("--year", type=int, help="year of the figures, for rows without a tahun/year value")
    p.add_argument("--source", help="where the figures come from, e.g. 'Dukcapil 2024 S1' (default file:<name>)")
    p.set_defaults(func=cmd_import_population)

    p = imp.add_parser("opencellid", help="import known cell towers from an OpenCelliD export (CSV, .csv.gz; "
                                          "with or without header); prints a JSON summary")
    p.add_argument("file", help="e.g. 510.csv.gz (Indonesia): radio,mcc,net,area,cell,unit,lon,lat,range,...")
    p.add_argument("--source", default="opencellid", help="source name kept with each tower (default opencellid)")
    p.add_argument("--default-range", type=float, help="range (m) for towers without one when deciding whether they "
                                                       "reach the region (default NTPD_TOWER_DEFAULT_RANGE_M)")
    p.set_defaults(func=cmd_import_opencellid)
    p = imp.add_parser("survey", help="import field-survey signal measurements (CSV or XLSX: lat, lon, signal in "
                                      "dBm or bars, operator, time); prints a JSON summary")
    p.add_argument("file", help="path of the .csv or .xlsx file")
    p.add_argument("--source", help="name of the survey (default survey:<file name>); re-importing it changes "
                                    "nothing")
    p.add_argument("--tz", help="zone of times without an offset (default: the center's)")
    p.set_defaults(func=cmd_import_survey)
    p = imp.add_parser("blankspots", help="import a list of blank-spot desa (by Kemendagri code or name) as "
                                          "signal marks; prints a JSON summary")
    p.add_argument("file", help="path of the .csv or .xlsx file: kode or desa (+ kecamatan), optional status, "
                                "keterangan, operator, tanggal_survei")
    p.add_argument("--status", default="none", help="status of rows without one (default: none = tidak ada "
                                                    "sinyal)")
    p.set_defaults(func=cmd_import_blankspots)

    e = sub.add_parser("export", help="export reports").add_subparsers(dest="what", required=True)
    p = e.add_parser("bts-proposal", help="the BTS proposal for Komdigi: one row per blank-spot desa with its "
                                          "evidence, sorted by the BTS index")
    p.add_argument("--out", required=True, help="FILE.xlsx or FILE.csv (_SIMULASI is added when data is simulated)")
    p.add_argument("--from", dest="date_from", help="first local date of the calls counted (default: 29 days "
                                                    "before --to)")
    p.add_argument("--to", dest="date_to", help="last local date, inclusive (default: today)")
    p.set_defaults(func=cmd_export_bts_proposal)

    c = sub.add_parser("coverage", help="signal marks of desa and H3 cells, with their audit trail").add_subparsers(
        dest="action", required=True)
    p = c.add_parser("mark", help="set the signal status of a desa (or an H3 cell in it)")
    p.add_argument("--desa", help="Kemendagri code of the desa")
    p.add_argument("--h3", help="an H3 cell (resolution 7-9) instead of the whole desa")
    p.add_argument("--status", required=True, help="tidak ada sinyal | lemah | 2G saja | baik (none, weak, "
                                                   "2g_only, good)")
    p.add_argument("--operators", help="operators seen, e.g. 'Telkomsel, XL'")
    p.add_argument("--surveyed-on", help="survey date YYYY-MM-DD")
    p.add_argument("--evidence", help="what the mark rests on")
    p.add_argument("--author", required=True, help="who is marking (user name)")
    p.set_defaults(func=cmd_coverage_mark)
    p = c.add_parser("undo", help="undo a change: append one restoring the state before it")
    p.add_argument("id", type=int, help="change id (see coverage history)")
    p.add_argument("--author", required=True, help="who is undoing (user name)")
    p.set_defaults(func=cmd_coverage_undo)
    p = c.add_parser("history", help="the audit trail, newest first")
    p.add_argument("--desa", help="only this desa (Kemendagri code)")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_coverage_history)


    add_account_parsers(sub)


    kinds, statuses = [str(k) for k in AgencyKind], [str(s) for s in UnitStatus]
    u = sub.add_parser("units", help="responder units and the tracker (device) of each").add_subparsers(
        dest="action", required=True)
    p = u.add_parser("add", help="register a device to a unit, or update the unit (its reports are then accepted)")
    p.add_argument("--device", required=True, help="the device id the tracker sends: Traccar Client's "
                                                   "'Device identifier', or the uniqueId in a Traccar server")
    p.add_argument("--name", required=True, help='the unit, e.g. "Ambulans RSUD 1"')
    p.add_argument("--agency", required=True, help='e.g. "RSUD Kefamenanu"')
    p.add_argument("--kind", choices=kinds, required=True, help="agency kind (sets the map icon)")
    p.add_argument("--status", choices=statuses, default="available")
    p.set_defaults(func=cmd_units_add)
    p = u.add_parser("list", help="list units with their status")
    p.set_defaults(func=cmd_units_list)
    p = u.add_parser("status", help="set a unit's status")
    p.add_argument("device")
    p.add_argument("status", choices=statuses)
    p.set_defaults(func=cmd_units_status)
    p = u.add_parser("remove", help="unregister a device (its reports are refused again; history stays until pruned)")
    p.add_argument("device")
    p.set_defaults(func=cmd_units_remove)
    p = u.add_parser("unknown", help="devices that reported without being registered, with counts")
    p.set_defaults(func=cmd_units_unknown)
    pos = sub.add_parser("positions", help="responder positions").add_subparsers(dest="action", required=True)
    p = pos.add_parser("prune", help="delete positions older than NTPD_POSITION_RETENTION_DAYS (the app also "
                                     "does this by itself every 10 minutes while positions arrive)")
    p.add_argument("--days", type=int, help="override the retention setting")
    p.set_defaults(func=cmd_positions_prune)

    p = sub.add_parser("recap", help="the recap for the Bupati: calls, genuine, resolved, per agency and kecamatan")
    p.add_argument("--from", dest="date_from", required=True, help="first local date, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", required=True, help="last local date (inclusive), YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_recap)

    p = sub.add_parser("briefing", help="the Bupati's briefing of a period as an A4 PDF or an XLSX, from the store "
                                        "alone (no web server)")
    p.add_argument("--out", required=True, help="FILE.pdf or FILE.xlsx (_SIMULASI is added when data is simulated)")
    p.add_argument("--from", dest="date_from", help="first local date, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="last local date (inclusive), YYYY-MM-DD")
    p.add_argument("--period", help="instead of --from/--to: a month (2025-05) or a quarter (2025-Q2)")
    p.add_argument("--lang", choices=("id", "en"), help="language (default NTPD_LANG, else id)")
    p.set_defaults(func=cmd_briefing)


    p = sub.add_parser("audit", help="the audit log: who changed what and when, newest first (times in the "
                                     "center's zone)")
    p.add_argument("--since", help="from this local date on, YYYY-MM-DD")
    p.add_argument("--action", choices=ACTIONS, metavar="ACTION", help=f"only this action: {', '.join(ACTIONS)}")
    p.add_argument("--actor", help="only this actor, e.g. cli:root, user:ana, api:simrs-rsud, display:ruang-112")
    p.add_argument("--limit", type=int, default=100, help="at most this many entries (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("settings", help="print every setting with its current value and help")
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()

    logging.basicConfig(level=settings.get("NTPD_LOG_LEVEL"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()

    try:
        return int(args.func(args, settings))
    except (ValueError, LookupError, FileNotFoundError, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
