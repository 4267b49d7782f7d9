"""Ways incident data comes in: recap files (CSV, XLSX) and API objects, parsed and validated (issue 4).

Parsers live here and do no storage: a ParsedBatch's frame goes to ``incidents.locate_frame`` and a store.
"""

from ntpd_map.ingest.files import table_from_file, write_rejects_csv
from ntpd_map.ingest.records import (
    FIELDS,
    REASON_CODES,
    ParsedBatch,
    agency_kind,
    caller_fields,
    field_for_header,
    incidents_from_records,
    incidents_from_table,
)

__all__ = [
    "FIELDS",
    "REASON_CODES",
    "ParsedBatch",
    "agency_kind",
    "caller_fields",
    "field_for_header",
    "incidents_from_records",
    "incidents_from_table",
    "table_from_file",
    "write_rejects_csv",
]
