//! Opening the database: WAL, a busy timeout, `synchronous=NORMAL` (a commit survives `kill -9`
//! of herald; WAL keeps it consistent), and the schema migrations, numbered by `user_version`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, IoContext, Result};

/// The database file inside `state_dir`.
pub const DB_FILE: &str = "herald.db";

/// How long a connection waits for another process's lock before the command fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// An error of the database at `path`, worded for the user where SQLite's words are terse.
fn state_error(path: &Path, source: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    let reason = match source.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => format!(
            "database is locked: another process held it for over {} s (a `sqlite3` shell, a \
             backup?); run again once it lets go",
            BUSY_TIMEOUT.as_secs()
        ),
        _ => source.to_string(),
    };
    Error::State {
        path: path.to_path_buf(),
        reason,
        source,
    }
}

/// Migrations, applied in order; `user_version` records how many ran. Never edit one that has
/// shipped: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: subscribers, membership, the delivery journal, runs, used tokens.
    "CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
        reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE memberships (
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        list_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed')),
        source TEXT NOT NULL CHECK (source IN ('csv', 'cli', 'import', 'serve')),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (subscriber_id, list_id)
    ) WITHOUT ROWID;
    CREATE INDEX memberships_by_list ON memberships(list_id, status);
    CREATE TABLE campaigns (
        post_slug TEXT PRIMARY KEY,
        planned_at INTEGER NOT NULL,
        recipients INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        post_slug TEXT NOT NULL,
        email_norm TEXT NOT NULL,
        lists TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed', 'cancelled')),
        attempts INTEGER NOT NULL DEFAULT 0,
        first_attempt INTEGER,
        next_attempt INTEGER,
        reply TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (post_slug, email_norm)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_open ON deliveries(status, next_attempt)
        WHERE status IN ('queued', 'sending', 'deferred');
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        sent INTEGER NOT NULL DEFAULT 0,
        deferred INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        outcome TEXT
    );
    CREATE TABLE csv_merges (
        list_id TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        merged_at INTEGER NOT NULL
    );
    CREATE TABLE used_tokens (
        nonce TEXT PRIMARY KEY,
        used_at INTEGER NOT NULL
    );",
    // 2: digests, posts skipped as late, and a random key per subscriber for the links in mail
    // (which name the key, never the address).
    "ALTER TABLE subscribers ADD COLUMN key TEXT;
    UPDATE subscribers SET key = lower(hex(randomblob(16)));
    CREATE UNIQUE INDEX subscribers_by_key ON subscribers(key);
    CREATE TRIGGER subscribers_key AFTER INSERT ON subscribers WHEN NEW.key IS NULL
    BEGIN
        UPDATE subscribers SET key = lower(hex(randomblob(16))) WHERE id = NEW.id;
    END;
    CREATE TABLE digests (
        list_id TEXT NOT NULL,
        slot INTEGER NOT NULL,
        campaign TEXT NOT NULL UNIQUE,
        posts TEXT NOT NULL,
        planned_at INTEGER NOT NULL,
        recipients INTEGER NOT NULL,
        PRIMARY KEY (list_id, slot)
    ) WITHOUT ROWID;
    CREATE TABLE digest_posts (
        list_id TEXT NOT NULL,
        post_slug TEXT NOT NULL,
        slot INTEGER NOT NULL,
        PRIMARY KEY (list_id, post_slug)
    ) WITHOUT ROWID;
    CREATE TABLE skipped (
        post_slug TEXT PRIMARY KEY,
        post_date INTEGER NOT NULL,
        skipped_at INTEGER NOT NULL,
        reason TEXT NOT NULL
    );",
    // 3: sign-ups waiting for their confirmation, under the nonce their link carries (the link
    // carries nothing else: no address, no name).
    "CREATE TABLE signups (
        nonce TEXT PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        lists TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX signups_by_expiry ON signups(expires_at);",
    // 4: complaints and returned mail. SQLite cannot change a CHECK, so `subscribers` is
    // rebuilt for the status `complained` (SQLite's twelve steps; foreign keys are off while
    // migrations run, so `memberships` keeps every row), with its key index and trigger. Then
    // the record of returned mail (one row per report, so none counts twice), the soft
    // bounces per (address, campaign), and the IMAP messages left in their folder.
    "CREATE TABLE subscribers_new (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
        reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        key TEXT
    );
    INSERT INTO subscribers_new (id, email, email_norm, name, status, reason, created_at, updated_at, key)
        SELECT id, email, email_norm, name, status, reason, created_at, updated_at, key FROM subscribers;
    DROP TABLE subscribers;
    ALTER TABLE subscribers_new RENAME TO subscribers;
    CREATE UNIQUE INDEX subscribers_by_key ON subscribers(key);
    CREATE TRIGGER subscribers_key AFTER INSERT ON subscribers WHEN NEW.key IS NULL
    BEGIN
        UPDATE subscribers SET key = lower(hex(randomblob(16))) WHERE id = NEW.id;
    END;
    CREATE TABLE returned_mail (
        report TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint', 'ignored', 'unattributable')),
        email_norm TEXT,
        campaign TEXT,
        code TEXT,
        detail TEXT NOT NULL DEFAULT '',
        received_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX returned_mail_by_kind ON returned_mail(kind, received_at);
    CREATE TABLE soft_bounces (
        email_norm TEXT NOT NULL,
        campaign TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (email_norm, campaign)
    ) WITHOUT ROWID;
    CREATE TABLE imap_left (
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        PRIMARY KEY (folder, uidvalidity, uid)
    ) WITHOUT ROWID;",
];

/// An open state database.
pub struct Db {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Db {
    /// The database file name inside `state_dir`.
    pub const FILE: &'static str = DB_FILE;

    /// Opens (creating if needed) `state_dir/herald.db` and brings its schema up to date.
    pub fn open(state_dir: &Path) -> Result<Db> {
        std::fs::create_dir_all(state_dir).with_path(state_dir)?;
        let path = state_dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(|e| state_error(&path, e))?;
        let db = Db { conn, path };
        db.setup().map_err(|e| db.err(e))?;
        Ok(db)
    }

    /// An in-memory copy of the state (or an empty state if there is none yet), for
    /// `--dry-run`: every step runs as usual and nothing reaches the disk.
    pub fn scratch_copy(state_dir: &Path) -> Result<Db> {
        let path = state_dir.join(DB_FILE);
        let conn = Connection::open_in_memory().map_err(|e| state_error(&path, e))?;
        let db = Db {
            conn,
            path: path.clone(),
        };
        db.setup().map_err(|e| db.err(e))?;
        if path.exists() {
            // The copy is of a consistent database; its tables come in schema order, which
            // after a rebuilt table (migration 3) puts a child before its parent.
            db.conn
                .pragma_update(None, "foreign_keys", "OFF")
                .map_err(|e| db.err(e))?;
            let copy = || -> rusqlite::Result<()> {
                // With no log beside the file, nobody has the database open: read it as
                // immutable, which creates no -wal/-shm files. With a log (serve is running),
                // read through it, so the copy sees its latest writes.
                let wal = state_dir.join(format!("{DB_FILE}-wal"));
                let flag = if wal.exists() {
                    "mode=ro"
                } else {
                    "immutable=1"
                };
                let uri = format!("file:{}?{flag}", path.display());
                db.conn.execute("ATTACH DATABASE ?1 AS src", [uri])?;
                // Every table of the schema, in the order the migrations created them
                // (parents before the tables whose foreign keys point at them).
                let tables: Vec<String> = db
                    .conn
                    .prepare(
                        "SELECT name FROM main.sqlite_master
                         WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
                    )?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                for table in tables {
                    db.conn.execute(
                        &format!("INSERT INTO main.{table} SELECT * FROM src.{table}"),
                        [],
                    )?;
                }
                db.conn.execute("DETACH DATABASE src", [])?;
                Ok(())
            };
            copy().map_err(|e| db.err(e))?;
            db.conn
                .pragma_update(None, "foreign_keys", "ON")
                .map_err(|e| db.err(e))?;
        }
        Ok(db)
    }

    fn setup(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!(
                    "the database was written by a newer herald (schema {version}, this one knows {})",
                    MIGRATIONS.len()
                )
                .into(),
            ));
        }
        if version == MIGRATIONS.len() {
            return Ok(());
        }
        // A migration that rebuilds a table drops the old one, and with foreign keys on that
        // would delete every row that points at it (`memberships` cascades): they are off
        // while migrations run (the pragma is a no-op inside a transaction, so around it), and
        // each migration is checked against them before it commits.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let migrated = self.migrate(version);
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        migrated
    }

    fn migrate(&self, version: usize) -> rusqlite::Result<()> {
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.write_transaction()?;
            // `serve` and `publish` starting together on a new state: the other one may have
            // migrated since `version` was read.
            let done: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if usize::try_from(done).unwrap_or(usize::MAX) > i {
                continue;
            }
            tx.execute_batch(sql)?;
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken > 0 {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!(
                        "migration {} would leave {broken} rows pointing at nothing; nothing was changed",
                        i + 1
                    )
                    .into(),
                ));
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), waiting for it under
    /// the busy timeout. A deferred one that reads first and writes later cannot wait: if another
    /// process wrote in between, SQLite answers "database is locked" at once (waiting could
    /// deadlock), so a sign-up confirmed or an unsubscribe applied while `publish` wrote the
    /// journal failed.
    pub(crate) fn write_transaction(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
    }

    /// For the connection that writes the delivery journal: checkpoint (and so `fsync`) every
    /// 64 MiB of log instead of every 4 MiB, then once at the end of the run, so that
    /// workers do not stall behind a checkpoint every few hundred messages.
    pub fn defer_checkpoints(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 16384)
            .map_err(|e| self.err(e))
    }

    /// Copies the log into the database file, without waiting for readers.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(PASSIVE)")
            .map_err(|e| self.err(e))
    }

    /// Wraps a SQLite error with the database path.
    pub fn err(&self, e: rusqlite::Error) -> Error {
        state_error(&self.path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_twice_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let mode: String = db
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(db);
        let db = Db::open(dir.path()).unwrap();
        let v: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
    }

    /// Migration 3 rebuilds `subscribers` for its new CHECK: every row and key survives, and
    /// so does every membership that points at them (a rebuild with foreign keys on would
    /// cascade the old table's drop into `memberships`).
    #[test]
    fn the_subscribers_rebuild_keeps_every_row_and_membership() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO subscribers (email, email_norm, name, status, reason, created_at, updated_at)
                 VALUES ('A@example.com', 'a@example.com', 'Ann', 'bounced', '550', 1, 2),
                        ('b@example.com', 'b@example.com', '', 'active', NULL, 1, 1);
                 INSERT INTO memberships VALUES (1, 'all', 'active', 'csv', 1), (2, 'all', 'active', 'cli', 1),
                        (2, 'seo', 'unsubscribed', 'serve', 3);",
            )
            .unwrap();
        }
        let before: Vec<(i64, String, String)> = {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            let mut st = conn
                .prepare("SELECT id, email, key FROM subscribers ORDER BY id")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let db = Db::open(dir.path()).unwrap();
        let count = |sql: &str| -> i64 { db.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM memberships"), 3);
        assert_eq!(
            count("PRAGMA foreign_keys"),
            1,
            "back on after the migration"
        );
        let after: Vec<(i64, String, String)> = {
            let mut st = db
                .conn
                .prepare("SELECT id, email, key FROM subscribers ORDER BY id")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(after, before);
        // The new word is allowed, the trigger still gives new rows a key, and a deleted
        // subscriber still takes its memberships with it.
        db.conn
            .execute_batch(
                "UPDATE subscribers SET status = 'complained' WHERE id = 2;
                 INSERT INTO subscribers (email, email_norm, status, created_at, updated_at)
                 VALUES ('c@example.com', 'c@example.com', 'active', 1, 1);",
            )
            .unwrap();
        assert_eq!(
            count("SELECT count(*) FROM subscribers WHERE key IS NOT NULL AND length(key) = 32"),
            3
        );
        db.conn
            .execute_batch("DELETE FROM subscribers WHERE id = 1")
            .unwrap();
        assert_eq!(count("SELECT count(*) FROM memberships"), 2);
        assert!(
            db.conn
                .execute_batch("UPDATE subscribers SET status = 'paused' WHERE id = 2")
                .is_err()
        );
    }

    #[test]
    fn a_database_from_a_newer_herald_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.conn
            .pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
            .unwrap();
        drop(db);
        let err = Db::open(dir.path()).err().expect("refused").to_string();
        assert!(err.contains("written by a newer herald"), "{err}");
    }

    #[test]
    fn the_dry_run_copy_holds_every_row_of_every_table() {
        use crate::state::subscribers::Source;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let all = ["all".to_string()];
        db.add_member("a@example.com", "A", "all", Source::Cli, 1)
            .unwrap();
        db.merge_csv("all", "d1", 1, || {
            vec![("b@example.com".into(), String::new())]
        })
        .unwrap();
        db.confirm("n1", "c@example.com", "", &all, 1).unwrap();
        db.sign_up(
            &crate::state::subscribers::SignUp {
                email: "d@example.com".into(),
                name: String::new(),
                lists: all.to_vec(),
                nonce: "n2".into(),
                expires: 9,
            },
            1,
        )
        .unwrap();
        db.plan_campaign("post", &all, 2).unwrap();
        db.start_run(2).unwrap();
        db.conn
            .execute_batch(
                "INSERT INTO digests VALUES ('weekly', 5, 'digest/weekly/5', '[]', 5, 0);
                 INSERT INTO digest_posts VALUES ('weekly', 'post', 5);
                 INSERT INTO skipped VALUES ('old', 1, 5, 'late');
                 INSERT INTO returned_mail VALUES ('mid:r@x', 'soft', 'a@example.com', 'post', '4.2.2', 'full', 6);
                 INSERT INTO soft_bounces VALUES ('a@example.com', 'post', 6);
                 INSERT INTO imap_left VALUES ('INBOX', 1, 7);",
            )
            .unwrap();
        let count = |db: &Db, table: &str| -> i64 {
            db.conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap()
        };
        let tables: Vec<String> = db
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let copy = Db::scratch_copy(dir.path()).unwrap();
        for table in &tables {
            assert!(count(&db, table) > 0, "the test fills {table}");
            assert_eq!(count(&copy, table), count(&db, table), "{table}");
        }
    }

    #[test]
    fn a_corrupt_database_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DB_FILE),
            b"this is not a database, just text".repeat(200),
        )
        .unwrap();
        let err = Db::open(dir.path())
            .err()
            .expect("corrupt db must fail")
            .to_string();
        assert!(err.contains("herald.db"), "{err}");
    }
}
