-- Population figures and known cell towers (issue 5: where 112 needs socialising, where BTS should be proposed).
-- population: one figure per kecamatan (53.03.06) or desa (53.03.06.2001) code, the newest import wins.
-- updated_at is when this row last changed here (Unix seconds UTC).
CREATE TABLE population (
    kode TEXT PRIMARY KEY,
    level TEXT NOT NULL CHECK (level IN ('kecamatan', 'desa')),
    population INTEGER NOT NULL CHECK (population >= 0),
    year INTEGER,
    source TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- towers: OpenCelliD's cell key identifies a tower, so a re-import updates instead of duplicating; a tower
-- without the whole key (a surveyed mast) is matched on source and position by the store (see Store.add_towers).
-- updated_at is when the source last saw the tower, as the source says.
CREATE TABLE towers (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    radio TEXT,
    mcc INTEGER,
    net INTEGER,
    area INTEGER,
    cell INTEGER,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    range_m REAL,
    samples INTEGER,
    updated_at INTEGER,
    simulated INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, radio, mcc, net, area, cell)
);
