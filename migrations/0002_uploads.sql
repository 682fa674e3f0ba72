-- Uploads: one row per file kept in R2 (UPLOADS) under files/<id>/<variant>, and the app's generated secrets.

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,                           -- sanitised display name
    kind TEXT NOT NULL,                           -- image | pdf | text | attachment
    content_type TEXT NOT NULL,                   -- decided from the bytes
    size INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    etag TEXT,
    width INTEGER,
    height INTEGER,
    variants TEXT NOT NULL DEFAULT '',            -- comma-separated variant names beside 'original'
    private INTEGER NOT NULL DEFAULT 0,
    -- uploading: being written (a stale one is swept); ready; deleting: R2 objects still to remove.
    state TEXT NOT NULL CHECK (state IN ('uploading', 'ready', 'deleting')),
    upload_id TEXT,                               -- the R2 multipart upload while uploading
    part_size INTEGER,                            -- resumable uploads: the size of every part but the last
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX uploads_by_owner ON uploads (owner, state, created_at);
CREATE INDEX uploads_by_state ON uploads (state, updated_at);

-- Parts of a resumable (multipart) upload, so a client can ask which parts arrived.
CREATE TABLE upload_parts (
    upload TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    etag TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (upload, part)
);

-- Secrets the app generates for itself once (e.g. the link signing key when SIGNING_KEY is unset).
CREATE TABLE app_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Chat attachments: a message's resolved uploads as JSON (written by each room's outbox).
ALTER TABLE messages ADD COLUMN attachments TEXT;
