-- Schema version 4.
--
-- Roles of serial instruments. The stream kind stays thermal/ae/bms; a `bms`
-- stream (anything on a serial line) also names its role in the rig: the cell's
-- BMS (`cell_bms`), the power supply (`supply`), a data logger (`logger`), an
-- ambient sensor (`ambient`) or `other`. Per-tick features take each field from
-- its role's stream (docs/annotation.md, schemas/rig.md). NULL: a file written
-- before roles existed (the readers' documented default applies).
ALTER TABLE stream ADD COLUMN role TEXT;

-- Markers are removed the way labels are: never deleted, superseded. A removal
-- is a new row whose supersedes_id names the marker it removes, with deleted = 1;
-- current markers are rows no other row supersedes, not deleted.
ALTER TABLE marker ADD COLUMN supersedes_id INTEGER REFERENCES marker(id);
ALTER TABLE marker ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
CREATE INDEX marker_supersedes ON marker(supersedes_id);

-- A label saved with --force over a refusal (time outside the session, a second
-- instant of the same kind in its set) names what was overridden here, so the
-- history shows it. '' for labels that passed every check.
ALTER TABLE annotation ADD COLUMN forced TEXT NOT NULL DEFAULT '';
