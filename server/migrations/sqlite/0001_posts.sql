-- One row per room: the last seq handed out, so seqs are dense and strictly increasing.
CREATE TABLE rooms (
    room     TEXT PRIMARY KEY NOT NULL,
    last_seq INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL
);

-- Posts, keyed by (room, seq). A client id is unique within its room so retries are
-- recognised and acknowledged again instead of stored twice.
CREATE TABLE posts (
    room      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    username  TEXT NOT NULL,
    text      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    PRIMARY KEY (room, seq),
    UNIQUE (room, client_id)
);
