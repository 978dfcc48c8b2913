//! The embedded store's schema and its migration: the tables of every area, then the columns
//! added after a table first shipped (with what existing rows need for them).

use rusqlite::{params, Connection};

use creo_store::{unavailable, StoreError};

/// The embedded schema, one file per area: the same tables and keys as `schema.cql`. Each
/// statement is `IF NOT EXISTS`, so applying it to an existing store is a no-op.
const SCHEMA: [&str; 9] = [
    include_str!("schema/documents.sql"),
    include_str!("schema/accounts.sql"),
    include_str!("schema/workflow.sql"),
    include_str!("schema/webhooks.sql"),
    include_str!("schema/channels.sql"),
    include_str!("schema/notifications.sql"),
    include_str!("schema/mfa.sql"),
    include_str!("schema/media.sql"),
    include_str!("schema/brand.sql"),
];

/// Creates the tables if missing and adds the columns later versions added. Idempotent:
/// `creo migrate` and every start run it.
pub fn migrate(conn: &Connection) -> Result<(), StoreError> {
    for schema in SCHEMA {
        conn.execute_batch(schema).map_err(unavailable)?;
    }
    // Columns added after a table first shipped (SQLite has no ADD COLUMN IF NOT EXISTS).
    add_column(
        conn,
        "document_workflow",
        "targets",
        "TEXT NOT NULL DEFAULT '[]'",
    )?;
    add_column(conn, "documents", "title", "TEXT NOT NULL DEFAULT ''")?;
    // People who signed up before addresses were verified keep what they could do: their
    // address counts as verified from their sign-up. In one transaction with the new column,
    // so a crash between the two cannot leave them unverified for good.
    if !has_column(conn, "users", "email_verified_at")? {
        conn.execute_batch(
            "BEGIN;
             ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
             UPDATE users SET email_verified_at = created_at;
             COMMIT;",
        )
        .map_err(unavailable)?;
    }
    add_column(
        conn,
        "accounts",
        "require_mfa",
        "INTEGER NOT NULL DEFAULT 0",
    )?;
    add_column(conn, "one_time_tokens", "payload", "TEXT")?;
    // After the columns it names exist.
    conn.execute_batch("CREATE INDEX IF NOT EXISTS invitations_by_email ON invitations (email)")
        .map_err(unavailable)
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StoreError> {
    conn.query_row(
        &format!("SELECT COUNT(*) > 0 FROM pragma_table_info('{table}') WHERE name = ?1"),
        params![column],
        |r| r.get(0),
    )
    .map_err(unavailable)
}

fn add_column(conn: &Connection, table: &str, column: &str, decl: &str) -> Result<(), StoreError> {
    if !has_column(conn, table, column)? {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
            .map_err(unavailable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store created before workflows had targets gains the column, keeping its rows.
    #[test]
    fn migrating_an_older_store_adds_the_columns_it_lacks() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE document_workflow (doc_id TEXT PRIMARY KEY, account_id TEXT NOT NULL,
             state TEXT NOT NULL, approvals TEXT NOT NULL, scheduled_at INTEGER, timezone TEXT,
             version INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO document_workflow VALUES ('d', 'a', 'draft', '', NULL, NULL, 1, 5);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        migrate(&conn).unwrap();
        let targets: String = conn
            .query_row(
                "SELECT targets FROM document_workflow WHERE doc_id = 'd'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(targets, "[]");
    }

    /// People already there when verification shipped count as verified from their sign-up;
    /// people signing up afterwards do not, and migrating again changes neither.
    #[test]
    fn migrating_marks_people_from_before_verification_verified() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT NOT NULL,
             password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
             INSERT INTO users VALUES ('old', 'old@example.com', 'Old', 'h', 42);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (user_id, email, name, password_hash, created_at)
             VALUES ('new', 'new@example.com', 'New', 'h', 43);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        let verified = |id: &str| -> Option<i64> {
            conn.query_row(
                "SELECT email_verified_at FROM users WHERE user_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!((verified("old"), verified("new")), (Some(42), None));
    }
}
