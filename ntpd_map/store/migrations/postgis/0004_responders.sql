-- Responders (issue 6): the same tables and columns as migrations/sqlite/0004_responders.sql.
DELETE FROM positions WHERE id NOT IN (SELECT min(id) FROM positions GROUP BY device_id, recorded_at);
DROP INDEX positions_device_time;
CREATE UNIQUE INDEX positions_device_time ON positions (device_id, recorded_at);
CREATE INDEX positions_recorded ON positions (recorded_at);
CREATE TABLE latest_positions (
    device_id text PRIMARY KEY,
    recorded_at bigint NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    source text NOT NULL,
    speed_kmh double precision,
    bearing double precision,
    accuracy_m double precision,
    battery double precision,
    simulated boolean NOT NULL DEFAULT false
);
INSERT INTO latest_positions
SELECT DISTINCT ON (device_id) device_id, recorded_at, lat, lon, source, speed_kmh, bearing, accuracy_m, battery,
       simulated
FROM positions ORDER BY device_id, recorded_at DESC, id DESC;
CREATE TABLE unknown_devices (
    device_id text NOT NULL,
    source text NOT NULL,
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    reports bigint NOT NULL,
    PRIMARY KEY (device_id, source)
);
ALTER TABLE units ADD COLUMN status_at bigint;
