-- trw session file, schema version 1.
-- Shipped migrations are never edited; a change is a new file 000N_*.sql.
-- Times: *_ns are Int64 nanoseconds. t_ns is session time (CLOCK_MONOTONIC
-- since session start, after clock-model correction); host_*_ns are raw
-- CLOCK_MONOTONIC readings; device_* are raw device-side times as captured.

CREATE TABLE session (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),   -- one session per file
    uuid                TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    operator            TEXT    NOT NULL DEFAULT '',
    cell_chemistry      TEXT,
    cell_capacity_ah    REAL,
    cell_format         TEXT,
    cell_maker          TEXT,
    cell_serial         TEXT,
    protocol            TEXT,
    rig_name            TEXT    NOT NULL,
    rig_config          TEXT    NOT NULL DEFAULT '',          -- rig file as recorded
    software_version    TEXT    NOT NULL,
    host_name           TEXT    NOT NULL DEFAULT '',
    start_monotonic_ns  INTEGER NOT NULL,                     -- t = 0 on CLOCK_MONOTONIC
    start_realtime_ns   INTEGER NOT NULL,                     -- t = 0 on CLOCK_REALTIME (UTC)
    start_utc           TEXT    NOT NULL,                     -- ISO 8601 of start_realtime_ns
    end_t_ns            INTEGER,
    status              TEXT    NOT NULL
        CHECK (status IN ('recording', 'complete', 'aborted', 'recovered')),
    status_detail       TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE stream (
    id                  INTEGER PRIMARY KEY,
    key                 TEXT    NOT NULL UNIQUE,              -- "ir0", "ae0", "bms0"
    kind                TEXT    NOT NULL CHECK (kind IN ('thermal', 'ae', 'bms')),
    device              TEXT    NOT NULL,
    format              TEXT    NOT NULL,
    nominal_rate_hz     REAL    NOT NULL,
    width               INTEGER,
    height              INTEGER,
    channels            INTEGER,
    sample_format       TEXT,
    calibration_json    TEXT,                                 -- counts -> kelvin
    units_json          TEXT    NOT NULL DEFAULT '{}',
    properties_json     TEXT    NOT NULL DEFAULT '{}',        -- asked vs granted, driver facts
    ae_detector_json    TEXT                                  -- AE hit detector settings
);

-- Clock model per stream: offset + drift per segment, residual statistics.
-- Re-fits add rows; the previous row is kept with is_current = 0 (history).
CREATE TABLE clock_model (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER NOT NULL REFERENCES stream(id),
    method              TEXT    NOT NULL,                     -- "online", "offline-resync", ...
    model_json          TEXT    NOT NULL,
    created_utc         TEXT    NOT NULL,
    is_current          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX clock_model_stream ON clock_model(stream_id, is_current);

CREATE TABLE thermal_frame (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER NOT NULL REFERENCES stream(id),
    sequence            INTEGER NOT NULL,                     -- driver sequence
    device_ts_ns        INTEGER NOT NULL,                     -- driver/camera timestamp
    host_arrival_ns     INTEGER NOT NULL,                     -- CLOCK_MONOTONIC at dequeue
    t_ns                INTEGER NOT NULL,
    codec               TEXT    NOT NULL,
    payload             BLOB    NOT NULL,
    min_counts          INTEGER NOT NULL,
    max_counts          INTEGER NOT NULL,
    mean_counts         REAL    NOT NULL,
    hotspot_x           INTEGER NOT NULL,
    hotspot_y           INTEGER NOT NULL,
    flags               INTEGER NOT NULL DEFAULT 0            -- bit 0: driver error flag
);
CREATE INDEX thermal_frame_stream_t ON thermal_frame(stream_id, t_ns);

CREATE TABLE audio_chunk (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER NOT NULL REFERENCES stream(id),
    first_sample_index  INTEGER NOT NULL,
    frame_count         INTEGER NOT NULL,
    host_arrival_ns     INTEGER NOT NULL,
    pair_sample_index   INTEGER,                              -- device (index, htstamp) pair
    pair_host_ns        INTEGER,
    t_ns                INTEGER NOT NULL,                     -- time of the first sample
    codec               TEXT    NOT NULL,
    payload             BLOB    NOT NULL,
    rms                 REAL    NOT NULL,                     -- fraction of full scale, all channels
    peak                REAL    NOT NULL
);
CREATE INDEX audio_chunk_stream_t ON audio_chunk(stream_id, t_ns);

-- AE hits, as Vallen's pridb keeps them (settings on the stream).
CREATE TABLE ae_hit (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER NOT NULL REFERENCES stream(id),
    channel             INTEGER NOT NULL,
    sample_index        INTEGER NOT NULL,                     -- first threshold crossing
    t_ns                INTEGER NOT NULL,
    amplitude_db        REAL    NOT NULL,                     -- dB_AE
    rise_time_s         REAL    NOT NULL,
    duration_s          REAL    NOT NULL,
    counts              INTEGER NOT NULL,
    energy_v2s          REAL    NOT NULL,
    rms_before_v        REAL    NOT NULL
);
CREATE INDEX ae_hit_stream_t ON ae_hit(stream_id, t_ns);

CREATE TABLE bms_sample (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER NOT NULL REFERENCES stream(id),
    host_arrival_ns     INTEGER NOT NULL,
    device_time_s       REAL,
    t_ns                INTEGER NOT NULL,
    voltage_v           REAL,
    current_a           REAL,
    cell_temp_c         REAL,                                 -- first cell channel
    cell_temps_json     TEXT    NOT NULL DEFAULT '[]',        -- all cell channels
    ambient_c           REAL,
    soc                 REAL,
    extra_json          TEXT    NOT NULL DEFAULT '{}',
    raw                 TEXT    NOT NULL
);
CREATE INDEX bms_sample_stream_t ON bms_sample(stream_id, t_ns);

-- Nothing is lost silently.
CREATE TABLE gap (
    id                  INTEGER PRIMARY KEY,
    stream_id           INTEGER REFERENCES stream(id),        -- NULL: whole recorder
    kind                TEXT    NOT NULL,
    start_t_ns          INTEGER NOT NULL,
    end_t_ns            INTEGER,
    lost_count          INTEGER NOT NULL,
    detail              TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX gap_t ON gap(start_t_ns);

CREATE TABLE marker (
    id                  INTEGER PRIMARY KEY,
    t_ns                INTEGER NOT NULL,
    text                TEXT    NOT NULL,
    author              TEXT    NOT NULL DEFAULT '',
    origin              TEXT    NOT NULL DEFAULT 'cli',       -- key | cli | source
    created_utc         TEXT    NOT NULL
);

-- Labels. Edits supersede, never overwrite: an edit is a new row whose
-- supersedes_id names the row it replaces; a deletion is a row with
-- deleted = 1. Current labels are rows no other row supersedes, not deleted.
CREATE TABLE annotation (
    id                  INTEGER PRIMARY KEY,
    label               TEXT    NOT NULL,                     -- runaway_onset, venting, ...
    start_t_ns          INTEGER NOT NULL,
    end_t_ns            INTEGER,                              -- NULL: an instant
    author              TEXT    NOT NULL,
    method              TEXT    NOT NULL,                     -- manual | detector:... | simulator_ground_truth
    parameters_json     TEXT    NOT NULL DEFAULT '{}',
    created_utc         TEXT    NOT NULL,
    supersedes_id       INTEGER REFERENCES annotation(id),
    deleted             INTEGER NOT NULL DEFAULT 0,
    note                TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX annotation_supersedes ON annotation(supersedes_id);

-- Per-model score streams from replays or live runs.
CREATE TABLE prediction (
    id                  INTEGER PRIMARY KEY,
    model               TEXT    NOT NULL,
    model_version       TEXT    NOT NULL DEFAULT '',
    run_id              TEXT    NOT NULL,
    t_ns                INTEGER NOT NULL,
    score               REAL    NOT NULL,
    alarm               INTEGER NOT NULL DEFAULT 0,
    latency_ns          INTEGER,
    parameters_json     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX prediction_model_t ON prediction(model, run_id, t_ns);
