-- The directory lists the most recently active rooms: read them from this index, newest
-- first, instead of sorting the whole table on every `GET /`.
CREATE INDEX rooms_by_last_ts ON rooms (last_ts);
