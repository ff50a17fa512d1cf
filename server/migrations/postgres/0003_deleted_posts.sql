-- A deleted post stays as a tombstone (its seq stays taken, so the log stays dense): its
-- username and text are erased, and `deleted_ms` says when. The partial index finds a room's
-- tombstones in a range without reading its live posts.
ALTER TABLE posts ADD COLUMN deleted_ms BIGINT;
CREATE INDEX posts_removed ON posts (room, seq) WHERE deleted_ms IS NOT NULL;
