-- Accounts, rooms, memberships, message history (with full-text search) and invite uses.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT UNIQUE COLLATE NOCASE,          -- NULL for guests
    display_name TEXT NOT NULL,
    password_hash TEXT,                           -- NULL for guests
    guest INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE rooms (
    room TEXT PRIMARY KEY,                        -- a public name or a 64-hex private id
    title TEXT NOT NULL,
    private INTEGER NOT NULL DEFAULT 0,
    created_by TEXT REFERENCES users (id),
    created_at INTEGER NOT NULL,
    last_activity INTEGER NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX rooms_by_activity ON rooms (private, last_activity DESC);

CREATE TABLE memberships (
    room TEXT NOT NULL REFERENCES rooms (room),
    user_id TEXT NOT NULL REFERENCES users (id),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room, user_id)
);

-- Written by each room's outbox (idempotent by room and seq).
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,                       -- rowid, for the FTS index
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    epoch TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    text TEXT,                                    -- NULL once deleted
    edited_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room, seq)
);

-- Edits and deletes are stream events too; they are kept so a resume can replay them.
CREATE TABLE message_events (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    epoch TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('edit', 'delete')),
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    nonce TEXT NOT NULL,
    target INTEGER NOT NULL,
    text TEXT,
    PRIMARY KEY (room, seq)
);

CREATE VIRTUAL TABLE messages_fts USING fts5 (text, content = 'messages', content_rowid = 'id');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE TABLE invite_uses (
    code TEXT NOT NULL,
    room TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    user_id TEXT,
    ip TEXT
);
CREATE INDEX invite_uses_by_code ON invite_uses (code);
