-- ntpd-map schema v1 (SQLite). Times are Unix seconds UTC; h3 is the res-9 cell as a signed 64-bit integer.
CREATE TABLE incidents (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    call_type TEXT NOT NULL,
    category TEXT,
    category_label TEXT,
    outcome TEXT NOT NULL DEFAULT 'open',
    agency TEXT,
    agency_kind TEXT,
    lat REAL,
    lon REAL,
    location_source TEXT NOT NULL DEFAULT 'unknown',
    kode_desa TEXT,
    kode_kec TEXT,
    kode_kab TEXT,
    h3 INTEGER,
    flags INTEGER NOT NULL DEFAULT 0,
    dispatched_at INTEGER,
    arrived_at INTEGER,
    resolved_at INTEGER,
    caller_hash TEXT,
    caller_last3 TEXT,
    notes TEXT,
    simulated INTEGER NOT NULL DEFAULT 0,
    attrs TEXT,
    rev INTEGER NOT NULL,
    UNIQUE (source, external_id)
);
-- The window counts per kecamatan read only this covering index (bench: 30-day count over 1M rows).
CREATE INDEX incidents_time_kec ON incidents (received_at, kode_kec, call_type);
CREATE INDEX incidents_rev ON incidents (rev);

CREATE TABLE units (
    device_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    agency TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'available',
    simulated INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE positions (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    source TEXT NOT NULL,
    speed_kmh REAL,
    bearing REAL,
    accuracy_m REAL,
    battery REAL,
    simulated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX positions_device_time ON positions (device_id, recorded_at);

CREATE TABLE coverage_marks (
    id INTEGER PRIMARY KEY,
    kode_desa TEXT NOT NULL,
    h3 TEXT,
    status TEXT NOT NULL,
    surveyed_on TEXT,
    operators TEXT,
    evidence TEXT,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    simulated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX coverage_marks_desa ON coverage_marks (kode_desa, id);

CREATE TABLE rejects (
    id INTEGER PRIMARY KEY,
    batch TEXT NOT NULL,
    row_number INTEGER,
    reason TEXT NOT NULL,
    original TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX rejects_batch ON rejects (batch);

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
