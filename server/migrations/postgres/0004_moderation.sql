-- Moderators: a name and the SHA-256 of the secret `wallsocket moderator add` printed once.
CREATE TABLE moderators (
    name        TEXT PRIMARY KEY NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_ms  BIGINT NOT NULL
);

-- Blocks until a time: `claim:<claim id>` (that name's holder may not post) or
-- `address:<ip>` (no connection from it is admitted). A lapsed row is ignored.
CREATE TABLE blocks (
    target   TEXT PRIMARY KEY NOT NULL,
    until_ms BIGINT NOT NULL
);

-- Every moderation action, appended: who, what, when.
CREATE TABLE audit (
    id        BIGSERIAL PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    moderator TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL
);
