//! What creo's emails say, as plain text and HTML. Everything a person wrote (names, titles,
//! comments) is escaped before it goes into the HTML part; links are built from the configured
//! public URL and ids, never from what a person typed.

use creo_core::jobs::SecurityEvent;
use creo_core::notifications::{group_by_document, Kind, Notification};

/// One email's subject and bodies.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A subject line never carries a line break (header injection) and stays short.
fn subject_line(s: &str) -> String {
    creo_core::notifications::excerpt(s, 120)
}

fn page(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;color:#1d1d1f;max-width:560px\">{body_html}\
         <p style=\"color:#6e6e73;font-size:12px\">You get this email from creo. Choose what \
         reaches you by email in the editor's notification settings.</p></body></html>",
        escape(title)
    )
}

/// One line saying what happened, for a subject or a list item.
pub fn headline(n: &Notification) -> String {
    let who = &n.actor_name;
    let doc = if n.doc_title.is_empty() {
        "a document".to_string()
    } else {
        format!("\u{201c}{}\u{201d}", n.doc_title)
    };
    match n.kind {
        Kind::Mention => format!("{who} mentioned you in {doc}"),
        Kind::Reply => format!("{who} replied in a thread on {doc}"),
        Kind::ReviewRequested => format!("{who} asks you to review {doc}"),
        Kind::Approved => format!("{who} approved {doc}"),
        Kind::ChangesRequested => format!("{who} requested changes to {doc}"),
        Kind::Published => format!("{doc} was published"),
        Kind::PublishFailed => format!("{doc} failed to publish"),
        Kind::GenerationFinished => format!("Your generation for {doc} is ready"),
        Kind::GenerationFailed => format!("Your generation for {doc} failed"),
        Kind::Invited => format!("{who} added you to a workspace"),
        Kind::RoleChanged => "Your role in a workspace changed".to_string(),
        Kind::LowCredits => "Your workspace is running low on credits".to_string(),
        Kind::ChannelNeedsReconnect => "A publishing channel needs reconnecting".to_string(),
    }
}

fn link(base_url: &str, n: &Notification) -> String {
    format!("{}{}", base_url.trim_end_matches('/'), n.link)
}

/// The email for one notification.
pub fn notification(n: &Notification, base_url: &str) -> Rendered {
    let headline = headline(n);
    let url = link(base_url, n);
    let detail = if n.text.is_empty() {
        String::new()
    } else {
        format!("\n\n{}", n.text)
    };
    Rendered {
        subject: subject_line(&headline),
        text: format!("{headline}{detail}\n\nOpen it: {url}\n"),
        html: page(
            &headline,
            &format!(
                "<p><strong>{}</strong></p>{}<p><a href=\"{}\">Open it in creo</a></p>",
                escape(&headline),
                if n.text.is_empty() {
                    String::new()
                } else {
                    format!("<blockquote>{}</blockquote>", escape(&n.text))
                },
                escape(&url)
            ),
        ),
    }
}

/// The digest of `items` (oldest first), grouped per document.
pub fn digest(items: &[Notification], base_url: &str) -> Rendered {
    let groups = group_by_document(items);
    let subject = match items.len() {
        1 => headline(&items[0]),
        n => format!("{n} new notifications in creo"),
    };
    let mut text = String::new();
    let mut html = String::new();
    for g in &groups {
        let title = match (g.doc_id, g.doc_title) {
            (None, _) => "Your workspaces".to_string(),
            (Some(_), "") => "Untitled document".to_string(),
            (Some(_), t) => t.to_string(),
        };
        text.push_str(&format!("{title}\n"));
        html.push_str(&format!("<h3>{}</h3><ul>", escape(&title)));
        for n in &g.items {
            let line = headline(n);
            let url = link(base_url, n);
            text.push_str(&format!("  - {line}: {url}\n"));
            html.push_str(&format!(
                "<li><a href=\"{}\">{}</a>{}</li>",
                escape(&url),
                escape(&line),
                if n.text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", escape(&n.text))
                }
            ));
        }
        text.push('\n');
        html.push_str("</ul>");
    }
    Rendered {
        subject: subject_line(&subject),
        text,
        html: page(&subject, &html),
    }
}

/// The password-reset email; `url` carries the token.
pub fn password_reset(url: &str, valid_minutes: u64) -> Rendered {
    let subject = "Reset your creo password".to_string();
    Rendered {
        text: format!(
            "Someone (we hope you) asked to reset the password of your creo account.\n\n\
             Choose a new password here within {valid_minutes} minutes: {url}\n\n\
             If it was not you, ignore this email: your password stays as it is.\n"
        ),
        html: page(
            &subject,
            &format!(
                "<p>Someone (we hope you) asked to reset the password of your creo account.</p>\
                 <p><a href=\"{}\">Choose a new password</a> within {valid_minutes} minutes.</p>\
                 <p>If it was not you, ignore this email: your password stays as it is.</p>",
                escape(url)
            ),
        ),
        subject,
    }
}

/// The email that proves an address is the person's; `url` carries the token.
pub fn email_verification(url: &str, valid_hours: u64) -> Rendered {
    let subject = "Confirm your email for creo".to_string();
    Rendered {
        text: format!(
            "Welcome to creo. Confirm that this is your email address within {valid_hours} hours: {url}\n\n\
             Until you do, you can edit but spend only a few credits and invite nobody.\n\
             If you did not sign up, ignore this email.\n"
        ),
        html: page(
            &subject,
            &format!(
                "<p>Welcome to creo.</p>\
                 <p><a href=\"{}\">Confirm that this is your email address</a> within {valid_hours} hours.</p>\
                 <p>Until you do, you can edit but spend only a few credits and invite nobody.</p>\
                 <p>If you did not sign up, ignore this email.</p>",
                escape(url)
            ),
        ),
        subject,
    }
}

/// The email, sent to the new address, that moves an account there; `url` carries the token.
pub fn email_change(url: &str, to: &str, valid_hours: u64) -> Rendered {
    let subject = "Confirm your new email for creo".to_string();
    Rendered {
        text: format!(
            "Someone (we hope you) asked to move a creo account to {to}.\n\n\
             Confirm within {valid_hours} hours: {url}\n\n\
             If it was not you, ignore this email: nothing changes.\n"
        ),
        html: page(
            &subject,
            &format!(
                "<p>Someone (we hope you) asked to move a creo account to {}.</p>\
                 <p><a href=\"{}\">Confirm the new address</a> within {valid_hours} hours.</p>\
                 <p>If it was not you, ignore this email: nothing changes.</p>",
                escape(to),
                escape(url)
            ),
        ),
        subject,
    }
}

/// "Your sign-in changed": what changed, and what to do if it was not the reader.
pub fn security_notice(event: SecurityEvent, public_url: &str) -> Rendered {
    let (subject, what) = match event {
        SecurityEvent::MfaEnabled => (
            "Two-step sign-in is on for your creo account",
            "Two-step sign-in was turned on: signing in now takes a code from your authenticator app.",
        ),
        SecurityEvent::MfaDisabled => (
            "Two-step sign-in is off for your creo account",
            "Two-step sign-in was turned off: a password alone now signs in to your account.",
        ),
        SecurityEvent::RecoveryCodesReplaced => (
            "New recovery codes for your creo account",
            "New recovery codes were made for two-step sign-in; the old ones no longer work.",
        ),
        SecurityEvent::EmailChanged => (
            "Your creo account moved to another email address",
            "Your creo account's email address was changed: mail for it now goes to the new address.",
        ),
    };
    let security = format!("{}/#/security", public_url.trim_end_matches('/'));
    Rendered {
        text: format!(
            "{what}\n\n\
             If it was you, there is nothing to do. If it was not, reset your password now and \
             review your sign-in settings: {security}\n"
        ),
        html: page(
            subject,
            &format!(
                "<p>{}</p><p>If it was you, there is nothing to do. If it was not, reset your \
                 password now and <a href=\"{}\">review your sign-in settings</a>.</p>",
                escape(what),
                escape(&security)
            ),
        ),
        subject: subject.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(kind: Kind, doc: Option<&str>, text: &str) -> Notification {
        Notification {
            notification_id: "n1".into(),
            user_id: "u".into(),
            account_id: "a".into(),
            kind,
            actor: "u_bob".into(),
            actor_name: "Bob <script>".into(),
            doc_id: doc.map(str::to_string),
            doc_title: doc.map(|d| format!("Launch {d}")).unwrap_or_default(),
            text: text.into(),
            link: "/?doc=d1".into(),
            created_at: 0,
            read_at: None,
            in_app: true,
            by_digest: false,
        }
    }

    #[test]
    fn what_people_wrote_is_escaped_in_html_and_kept_in_text() {
        let n = note(Kind::Mention, Some("d1"), "look at <b>this</b> & that");
        let mail = notification(&n, "https://creo.example/");
        assert_eq!(
            mail.subject,
            "Bob <script> mentioned you in \u{201c}Launch d1\u{201d}"
        );
        assert!(mail.text.contains("look at <b>this</b> & that"));
        assert!(mail.text.contains("https://creo.example/?doc=d1"));
        assert!(mail
            .html
            .contains("look at &lt;b&gt;this&lt;/b&gt; &amp; that"));
        assert!(!mail.html.contains("<script>"));
    }

    #[test]
    fn a_subject_never_holds_a_line_break() {
        let mut n = note(Kind::Mention, Some("d1"), "");
        n.actor_name = "Eve\r\nBcc: victim@example.com".into();
        assert!(!notification(&n, "http://x").subject.contains('\n'));
    }

    #[test]
    fn a_digest_lists_each_document_once() {
        let items = vec![
            note(Kind::Mention, Some("d1"), "one"),
            note(Kind::Reply, Some("d2"), "two"),
            note(Kind::Approved, Some("d1"), ""),
        ];
        let mail = digest(&items, "http://x");
        assert_eq!(mail.subject, "3 new notifications in creo");
        assert_eq!(mail.text.matches("Launch d1\n").count(), 1);
        assert_eq!(mail.html.matches("<h3>").count(), 2);
    }

    #[test]
    fn a_security_notice_says_what_changed_and_where_to_look() {
        let mail = security_notice(SecurityEvent::MfaDisabled, "https://creo.example/");
        assert_eq!(
            mail.subject,
            "Two-step sign-in is off for your creo account"
        );
        assert!(mail.text.contains("https://creo.example/#/security"));
        assert!(mail
            .html
            .contains("href=\"https://creo.example/#/security\""));
        assert!(mail.text.contains("reset your password"));
    }
}
