"""Ways incident data comes in: recap files (CSV, XLSX) and API objects, parsed and validated (issue 4).

Parsers live here and do no storage: a ParsedBatch's frame goes to ``incidents.locate_frame`` and a store.
"""

from ntpd_map.ingest.callers import caller_fields
from ntpd_map.ingest.files import table_from_file, write_rejects_csv
from ntpd_map.ingest.records import ParsedBatch, incidents_from_records, incidents_from_table
from ntpd_map.ingest.vocabulary import FIELDS, REASON_CODES, agency_kind, field_for_header

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
