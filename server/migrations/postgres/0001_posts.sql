-- One row per room: the last seq handed out, so seqs are dense and strictly increasing. A
-- batch locks its rooms' rows (SELECT … FOR UPDATE) while it numbers and inserts posts.
CREATE TABLE rooms (
    room     TEXT PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL,
    last_ts  BIGINT NOT NULL
);

-- The directory lists the most recently active rooms from this index, newest first.
CREATE INDEX rooms_by_last_ts ON rooms (last_ts);

-- Posts, keyed by (room, seq). A client id is unique within its room so retries (from any
-- node) are recognised and acknowledged again instead of stored twice.
CREATE TABLE posts (
    room      TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    username  TEXT NOT NULL,
    text      TEXT NOT NULL,
    ts        BIGINT NOT NULL,
    PRIMARY KEY (room, seq),
    UNIQUE (room, client_id)
);
