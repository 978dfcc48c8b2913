//! What an operator does from the command line, on the store itself (no server needs to run):
//! things no person can do for themselves through the API, by design.

use anyhow::Context;

use crate::config::Config;
use crate::store::{now_ms, AuditEvent};

/// Turns off the second factor of the person signed up with `email`: for someone who lost their
/// phone and every recovery code, once the operator has checked by other means who they are (a
/// password reset alone never does this, so a mailbox alone cannot undo two-step sign-in). The
/// person then signs in with their password and may enrol again. Recorded in the audit log of
/// each of their accounts as `mfa_reset_by_operator`; no mail goes out (the operator has just
/// spoken with them).
pub async fn reset_second_factor(config: &Config, email: &str) -> anyhow::Result<()> {
    let stores = crate::server::open_store(config).await?;
    let email = email.trim().to_lowercase();
    let user = stores
        .users
        .user_by_email(&email)
        .await?
        .with_context(|| format!("nobody signed up as {email}"))?;
    let on = stores
        .mfa
        .second_factor(&user.user_id)
        .await?
        .is_some_and(|f| f.enabled_at.is_some());
    if !on {
        anyhow::bail!("{email} has no second factor");
    }
    stores.mfa.disable(&user.user_id).await?;
    for m in stores.members.memberships(&user.user_id).await? {
        let event = AuditEvent {
            account_id: m.account_id,
            event_id: uuid::Uuid::now_v7().simple().to_string(),
            at: now_ms(),
            actor: "operator".into(),
            action: "mfa_reset_by_operator".into(),
            target: user.user_id.clone(),
            detail: String::new(),
        };
        stores.audit.audit(&event).await?;
    }
    tracing::info!(user = %user.user_id, "second factor turned off");
    Ok(())
}
