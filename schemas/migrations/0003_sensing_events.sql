-- Schema version 3.
--
-- Sensing settings changed while recording (IR frame rate, AE trigger threshold,
-- BMS rate), by an operator or a sensing policy (SENSOR-RL). Each change is one
-- row; frames or samples skipped because of a lowered rate are counted in
-- `skipped` of the change that ended the setting (they were never lost: the
-- policy chose not to keep them), so `trw info` can tell decimation from loss.
CREATE TABLE sensing_event (
    id                  INTEGER PRIMARY KEY,
    t_ns                INTEGER NOT NULL,
    stream_id           INTEGER REFERENCES stream(id),
    setting             TEXT    NOT NULL,                     -- ir_fps | ae_threshold_db | bms_hz
    value               REAL    NOT NULL,
    previous            REAL,                                 -- NULL: the stream's native setting
    origin              TEXT    NOT NULL,                     -- policy:NAME | operator | cli
    skipped             INTEGER NOT NULL DEFAULT 0,           -- events not kept under the previous setting
    detail              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sensing_event_t ON sensing_event(t_ns);
