-- Schema version 2.
--
-- Label sets: every label belongs to a set (by default its author's name), so
-- two annotators (or a person and a detector) can label the same run and be
-- compared (`trw label agree`). Existing labels join their author's set.
ALTER TABLE annotation ADD COLUMN label_set TEXT NOT NULL DEFAULT '';
UPDATE annotation SET label_set = author WHERE label_set = '';
CREATE INDEX annotation_set ON annotation(label_set, label);

-- Overviews (trw annotate, trw plot) read the per-frame statistics of hours of
-- frames. A covering index keeps them in a few index pages instead of one
-- table page per frame next to its payload; it replaces the (stream_id, t_ns)
-- index, whose columns it starts with.
CREATE INDEX thermal_frame_stats ON thermal_frame(stream_id, t_ns, sequence, min_counts, max_counts, mean_counts, hotspot_x, hotspot_y, flags);
DROP INDEX thermal_frame_stream_t;
