-- Feature flags: who may administer them, the audit log of every change, experiment exposures.

-- 'admin' may use /admin/flags (besides the optional OPERATOR_TOKEN secret).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';

CREATE TABLE flag_audit (
    id INTEGER PRIMARY KEY,
    flag TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    actor TEXT NOT NULL,                          -- 'operator' or 'user:<id>:<name>'
    at INTEGER NOT NULL,                          -- ms since the epoch
    version INTEGER NOT NULL,                     -- the flag's version after the change (0: deleted)
    before TEXT,                                  -- JSON definition, NULL when created
    after TEXT                                    -- JSON definition, NULL when deleted
);
CREATE INDEX flag_audit_by_flag ON flag_audit (flag, id);

-- One row per (flag, user, variant): the first time the user was served that variant.
CREATE TABLE flag_exposures (
    flag TEXT NOT NULL,
    variant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    first_at INTEGER NOT NULL,
    PRIMARY KEY (flag, user_id, variant)
);
