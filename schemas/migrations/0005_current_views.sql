-- Schema version 5.
--
-- The current labels and markers as views, so that any SQLite reader gets them without
-- repeating the supersede rule (schemas/payload-codecs.md, "Labels and markers"): a row
-- is current when it is not a removal (deleted = 0) and no other row names it in
-- supersedes_id. Same columns as the tables. trw itself uses the same rule in its
-- queries (Sources/TRWStore/Requests.swift, `current()`), so files of schema 1...4
-- opened read-only, which have no views, read the same.
CREATE VIEW current_annotation AS
    SELECT a.* FROM annotation a
    WHERE a.deleted = 0
      AND NOT EXISTS (SELECT 1 FROM annotation s WHERE s.supersedes_id = a.id);

CREATE VIEW current_marker AS
    SELECT m.* FROM marker m
    WHERE m.deleted = 0
      AND NOT EXISTS (SELECT 1 FROM marker s WHERE s.supersedes_id = m.id);
