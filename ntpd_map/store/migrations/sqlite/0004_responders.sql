-- Responders (issue 6). A phone that lost the answer sends the same fix again: a fix is stored once per
-- device and time. The newest fix of each unit is kept in its own row, so the map reads one row per unit
-- however long the history, and pruning old fixes never loses where a unit was last seen.
DELETE FROM positions WHERE id NOT IN (SELECT min(id) FROM positions GROUP BY device_id, recorded_at);
DROP INDEX positions_device_time;
CREATE UNIQUE INDEX positions_device_time ON positions (device_id, recorded_at);
CREATE INDEX positions_recorded ON positions (recorded_at);
CREATE TABLE latest_positions (
    device_id TEXT PRIMARY KEY,
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
INSERT INTO latest_positions
SELECT p.device_id, p.recorded_at, p.lat, p.lon, p.source, p.speed_kmh, p.bearing, p.accuracy_m, p.battery,
       p.simulated
FROM positions p JOIN (SELECT device_id, max(recorded_at) AS t FROM positions GROUP BY device_id) m
  ON p.device_id = m.device_id AND p.recorded_at = m.t;
-- Reports from devices no unit is registered to: refused, and counted here for the admin.
CREATE TABLE unknown_devices (
    device_id TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    reports INTEGER NOT NULL,
    PRIMARY KEY (device_id, source)
);
ALTER TABLE units ADD COLUMN status_at INTEGER
