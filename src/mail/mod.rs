//! Outgoing email over SMTP (`lettre`): one transport for the process, configured by
//! `smtp_url` (`smtp://host:25`, `smtp://user:pass@host:587?tls=required` for STARTTLS,
//! `smtps://user:pass@host:465` for TLS) and `mail_from`. Without `smtp_url` there is no
//! `Mailer` and nothing is emailed. What goes out is rendered by `templates.rs`; when it goes
//! out is decided by the mail jobs (`jobs/mail.rs`).

pub mod templates;

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;
pub use templates::Rendered;

/// How one send went.
#[derive(Debug)]
pub enum MailError {
    /// The server refused this message for good (a 5xx: no such mailbox, message refused), or
    /// it could not be built: retrying cannot help.
    Permanent(String),
    /// The server is down, slow or said "try later" (4xx): try again.
    Transient(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server as the circuit breaker names it (no credentials).
    destination: String,
}

impl Mailer {
    /// The configured mailer, or `None` when email is off (`smtp_url` unset).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Mailer>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let from_address = config.mail_from.as_deref().ok_or_else(|| {
            anyhow::anyhow!("smtp_url is set but mail_from is not: say who creo's mail is from")
        })?;
        let from: Mailbox = from_address
            .parse()
            .map_err(|e| anyhow::anyhow!("mail_from {from_address:?}: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
            .timeout(Some(Duration::from_millis(config.smtp_timeout_ms)))
            .build();
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?;
        let destination = format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed.port().unwrap_or(0)
        );
        Ok(Some(Mailer {
            transport,
            from,
            destination,
        }))
    }

    /// The SMTP server, as its circuit breaker knows it.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Sends `mail` to `to`, as a plain-text and HTML alternative. `message_id` is the same on
    /// every try of one mail, so a receiving system can recognise a repeat.
    pub async fn send(&self, to: &str, mail: &Rendered, message_id: &str) -> Result<(), MailError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| MailError::Permanent(format!("recipient address: {e}")))?;
        let domain = self.from.email.domain().to_string();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{message_id}@{domain}>")));
        // Automated mail: auto-responders must not answer it (RFC 3834).
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("building the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}
