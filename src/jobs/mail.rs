//! Mail jobs: one notification's email, a digest window's email, the password-reset, email
//! verification and email change emails, and notices of changes to how a person signs in. Each
//! job's id is its idempotency key: a job whose key is recorded as sent does nothing, and the
//! key is recorded right after the SMTP server accepts the message, so a redelivered job (a
//! worker that crashed before acknowledging it) does not mail twice. The one window left is a
//! crash between the server's acceptance and that record; the message keeps the same
//! Message-ID on every try so a receiving system can drop the repeat.
//!
//! A failing SMTP server delays mail and loses none: a temporary failure is retried with
//! backoff, its circuit breaker holds every mail job back (without spending tries) while the
//! server is down, and a job that runs out of tries is kept as a dead letter.

use std::sync::Arc;

use super::breaker::Breakers;
use super::{Job, JobKind, Outcome};
use crate::auth::sealed::SecretBox;
use crate::mail::{templates, MailError, Mailer, Rendered};
use crate::store::{now_ms, Stores};
use creo_core::jobs::Mail;
use creo_core::notifications::Notification;

/// What the sealed token of a password-reset job is bound to.
pub const RESET_TOKEN_CONTEXT: &str = "password-reset";
/// ... of an email verification job.
pub const VERIFY_TOKEN_CONTEXT: &str = "email-verification";
/// ... of an email change job.
pub const CHANGE_TOKEN_CONTEXT: &str = "email-change";

pub struct MailSender {
    pub stores: Stores,
    /// `None`: email is off, and a queued mail job waits as a dead letter.
    pub mailer: Option<Arc<Mailer>>,
    pub breakers: Arc<Breakers>,
    pub sealer: Arc<SecretBox>,
    /// Where links in emails point (the editor's public origin).
    pub public_url: String,
    pub reset_ttl_minutes: u64,
    pub verify_ttl_hours: u64,
}

impl MailSender {
    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::Mail { user_id, mail } = &job.kind else {
            return Outcome::Fail("not a mail job".into());
        };
        let Some(mailer) = &self.mailer else {
            return Outcome::Fail("email is off on this node (smtp_url is not set)".into());
        };
        match self.stores.notifications.mail_sent(&job.id).await {
            Ok(true) => return Outcome::Done,
            Ok(false) => {}
            Err(e) => return Outcome::Retry(e.to_string()),
        }
        let user = match self.stores.users.user(user_id).await {
            Ok(Some(u)) if !u.email.is_empty() => u,
            // Erased since: there is nobody to write to.
            Ok(_) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let rendered = match self.render(user_id, mail).await {
            Ok(Some(r)) => r,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e),
        };
        if let Err(wait) = self.breakers.admit(mailer.destination()) {
            return Outcome::Defer(
                "the SMTP server keeps failing (circuit open)".into(),
                wait.as_millis() as u64,
            );
        }
        let label = mail.label();
        // A change of address is confirmed from the new one; everything else goes to the
        // person's address.
        let to = match mail {
            Mail::EmailChange { to, .. } | Mail::SecurityNotice { to: Some(to), .. } => to,
            _ => &user.email,
        };
        match mailer.send(to, &rendered, &job.id).await {
            Ok(()) => {
                self.breakers.record(mailer.destination(), true);
                metrics::counter!("creo_mail_sent_total", "kind" => label).increment(1);
                if let Err(e) = self
                    .stores
                    .notifications
                    .record_mail_sent(&job.id, now_ms())
                    .await
                {
                    tracing::warn!(job = %job.id, error = %e, "mail sent but not recorded: a redelivery could send it again");
                }
                Outcome::Done
            }
            Err(MailError::Transient(e)) => {
                self.breakers.record(mailer.destination(), false);
                metrics::counter!("creo_mail_failures_total", "kind" => "transient").increment(1);
                Outcome::Retry(e)
            }
            Err(MailError::Permanent(e)) => {
                // The server answered: it is up, it refused this message.
                self.breakers.record(mailer.destination(), true);
                metrics::counter!("creo_mail_failures_total", "kind" => "permanent").increment(1);
                Outcome::Fail(e)
            }
        }
    }

    /// The email, or `None` when there is nothing to send any more (deleted, no longer a
    /// member, turned off since).
    async fn render(&self, user_id: &str, mail: &Mail) -> Result<Option<Rendered>, String> {
        match mail {
            Mail::Notification { notification_id } => {
                let Some(n) = self
                    .stores
                    .notifications
                    .notification(user_id, notification_id)
                    .await
                    .map_err(|e| e.to_string())?
                else {
                    return Ok(None);
                };
                let visible = self.still_visible(user_id, vec![n]).await?;
                Ok(visible
                    .first()
                    .map(|n| templates::notification(n, &self.public_url)))
            }
            Mail::Digest { from, to } => {
                let items = self
                    .stores
                    .notifications
                    .digest_between(user_id, *from, *to)
                    .await
                    .map_err(|e| e.to_string())?;
                let settings = crate::notify::settings_of(&self.stores, user_id)
                    .await
                    .map_err(|e| e.to_string())?;
                let wanted: Vec<Notification> = items
                    .into_iter()
                    .filter(|n| settings.emails(n.kind))
                    .collect();
                let visible = self.still_visible(user_id, wanted).await?;
                Ok((!visible.is_empty()).then(|| templates::digest(&visible, &self.public_url)))
            }
            Mail::PasswordReset { sealed_token } => {
                let token = self.open(sealed_token, RESET_TOKEN_CONTEXT)?;
                let url = format!("{}/#/reset/{token}", self.public_url.trim_end_matches('/'));
                Ok(Some(templates::password_reset(
                    &url,
                    self.reset_ttl_minutes,
                )))
            }
            Mail::EmailVerification { sealed_token } => {
                let token = self.open(sealed_token, VERIFY_TOKEN_CONTEXT)?;
                let url = format!("{}/#/verify/{token}", self.public_url.trim_end_matches('/'));
                Ok(Some(templates::email_verification(
                    &url,
                    self.verify_ttl_hours,
                )))
            }
            Mail::EmailChange { sealed_token, to } => {
                let token = self.open(sealed_token, CHANGE_TOKEN_CONTEXT)?;
                let url = format!(
                    "{}/#/email-change/{token}",
                    self.public_url.trim_end_matches('/')
                );
                Ok(Some(templates::email_change(
                    &url,
                    to,
                    self.verify_ttl_hours,
                )))
            }
            Mail::SecurityNotice { event, .. } => {
                Ok(Some(templates::security_notice(*event, &self.public_url)))
            }
        }
    }

    fn open(&self, sealed: &str, context: &str) -> Result<String, String> {
        self.sealer
            .open(sealed, context)
            .map_err(|_| "the link's token cannot be opened (was secrets_key changed?)".to_string())
    }

    /// Drops what a person may no longer see: notifications of accounts they left.
    async fn still_visible(
        &self,
        user_id: &str,
        items: Vec<Notification>,
    ) -> Result<Vec<Notification>, String> {
        let accounts = crate::notify::visible_accounts(&self.stores, user_id)
            .await
            .map_err(|e| e.to_string())?;
        Ok(items
            .into_iter()
            .filter(|n| accounts.contains(&n.account_id))
            .collect())
    }
}
