-- Coverage marks as an audit trail, and field-survey signal samples (issue 7).
-- Every row of coverage_marks is one change to the signal mark of a target: a desa (h3 NULL) or one H3 cell
-- kept with the desa it lies in. The trail is append-only: an undo is a new row restoring the state before the
-- change it reverts. previous_id is the change that was current for the same target before this one (NULL: the
-- target had no mark), so "old -> new" is this row against that one. status NULL means "no mark" (an undo of a
-- target's first mark). The newest row of a target is its current state.
-- SQLite cannot drop NOT NULL from a column: the table is rebuilt with the same ids.
CREATE TABLE coverage_marks_v5 (
    id INTEGER PRIMARY KEY,
    kode_desa TEXT NOT NULL,
    h3 TEXT,
    status TEXT,
    surveyed_on TEXT,
    operators TEXT,
    evidence TEXT,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    simulated INTEGER NOT NULL DEFAULT 0,
    action TEXT NOT NULL DEFAULT 'mark' CHECK (action IN ('mark', 'undo')),
    previous_id INTEGER,
    undoes INTEGER
);
INSERT INTO coverage_marks_v5 (id, kode_desa, h3, status, surveyed_on, operators, evidence, author, created_at,
                               simulated)
SELECT id, kode_desa, h3, status, surveyed_on, operators, evidence, author, created_at, simulated FROM coverage_marks;
DROP TABLE coverage_marks;
ALTER TABLE coverage_marks_v5 RENAME TO coverage_marks;
CREATE INDEX coverage_marks_target ON coverage_marks (kode_desa, h3, id);
UPDATE coverage_marks SET previous_id = (
    SELECT max(p.id) FROM coverage_marks p
    WHERE p.kode_desa = coverage_marks.kode_desa AND coalesce(p.h3, '') = coalesce(coverage_marks.h3, '')
      AND p.id < coverage_marks.id
);

-- A field survey's measurements: where, when, which operator, how strong (dBm and/or bars; bars 0 = no
-- signal). One sample per (source, time, position, operator): importing the same file again changes nothing.
-- kode_desa is where the point lies (the locator), h3 its res-9 cell.
CREATE TABLE signal_samples (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    dbm REAL,
    bars INTEGER,
    network TEXT,
    kode_desa TEXT,
    h3 INTEGER,
    simulated INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    CHECK (dbm IS NOT NULL OR bars IS NOT NULL),
    UNIQUE (source, recorded_at, lat, lon, operator)
);
CREATE INDEX signal_samples_desa ON signal_samples (kode_desa)
