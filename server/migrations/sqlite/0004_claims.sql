-- Name claims: who holds a name (compared by its key: NFKC, lowercase), as the SHA-256 of
-- the secret issued at its first use. `used_ms` is when it was last joined under; a claim
-- unused for --claim-ttl-days lapses.
CREATE TABLE claims (
    name_key    TEXT PRIMARY KEY NOT NULL,
    claim_id    TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    username    TEXT NOT NULL,
    used_ms     INTEGER NOT NULL
);

-- The claim each post was written under (none for posts from before claims): its
-- fingerprint is shown beside the name.
ALTER TABLE posts ADD COLUMN claim_id TEXT;
