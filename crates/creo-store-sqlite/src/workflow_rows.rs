//! The workflow tables on SQLite: a document's current workflow (moved only if its version is
//! the one the caller read), its transitions, each account's required approvals, and comments
//! (stored as JSON per comment).

use rusqlite::Row;

use creo_core::workflow::{Action, State, Workflow};

pub(super) fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        what.to_string().into(),
    )
}

pub(super) fn state(s: String) -> rusqlite::Result<State> {
    State::parse(&s).ok_or_else(|| corrupt("workflow state"))
}

pub(super) fn workflow_row(r: &Row) -> rusqlite::Result<Workflow> {
    let approvals: String = r.get(3)?;
    Ok(Workflow {
        doc_id: r.get(0)?,
        account_id: r.get(1)?,
        state: state(r.get(2)?)?,
        approvals: approvals.split_whitespace().map(str::to_string).collect(),
        scheduled_at: r.get(4)?,
        timezone: r.get(5)?,
        version: r.get(6)?,
        updated_at: r.get(7)?,
        targets: serde_json::from_str(&r.get::<_, String>(8)?)
            .map_err(|_| corrupt("workflow targets"))?,
    })
}

pub(super) fn action(s: String) -> rusqlite::Result<Action> {
    serde_json::from_value(serde_json::Value::String(s)).map_err(|_| corrupt("workflow action"))
}
