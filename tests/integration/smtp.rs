//! A real SMTP server for the mail tests: `aiosmtpd` (PyPI, installed into target/py-smtp by
//! scripts/install-smtp-server.sh) on a free loopback port, storing what it receives in a
//! Maildir; messages are read back with Python's own `email` parser, so what a test sees is what
//! a mail client would show (decoded subject, the plain-text part).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub struct Smtp {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

fn vendor() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/py-smtp");
    assert!(
        dir.join("aiosmtpd").exists(),
        "aiosmtpd is missing: run scripts/install-smtp-server.sh (scripts/test.sh does)"
    );
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    /// A running server on a free port.
    pub fn start() -> Smtp {
        let mut s = Smtp::on(free_port());
        s.spawn();
        s
    }

    /// A server for `port` that is not started yet (`spawn` starts it): mail sent before then
    /// finds nobody listening.
    pub fn on(port: u16) -> Smtp {
        Smtp {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        }
    }

    pub fn spawn(&mut self) {
        let child = Command::new("python3")
            .env("PYTHONPATH", vendor())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.dir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:<port>`, for `CREO_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let maildir = self.dir.path().join("maildir");
        if !maildir.join("new").exists() {
            return Vec::new();
        }
        let script = r#"
import email, email.policy, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
out = []
for key, raw in sorted(box.iteritems(), key=lambda kv: kv[1].get_date()):
    m = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
    text = m.get_body(preferencelist=('plain',))
    html = m.get_body(preferencelist=('html',))
    out.append({"to": str(m["To"]), "subject": str(m["Subject"]),
                "message_id": str(m["Message-ID"]),
                "text": text.get_content() if text else "",
                "html": html.get_content() if html else ""})
print(json.dumps(out))
"#;
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&maildir)
            .output()
            .expect("python3 reads the maildir");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The messages to `to` whose subject contains `subject`, once there are at least `n` (or
    /// what there is after `secs`).
    pub async fn wait_for(&self, to: &str, subject: &str, n: usize, secs: u64) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mine: Vec<Mail> = self
                .messages()
                .into_iter()
                .filter(|m| m.to.contains(to) && m.subject.contains(subject))
                .collect();
            if mine.len() >= n || Instant::now() > deadline {
                return mine;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The token of the link (`…#/<route>/<token>`) in the `n`th email to `to` whose subject
    /// contains `subject`.
    pub async fn link_token(&self, to: &str, subject: &str, route: &str, n: usize) -> String {
        let mails = self.wait_for(to, subject, n, 10).await;
        assert!(
            mails.len() >= n,
            "{n} emails {subject:?} to {to}, got {}",
            mails.len()
        );
        let text = &mails[n - 1].text;
        let marker = format!("#/{route}/");
        let start = text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {marker} link in {text}"));
        text[start + marker.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Signs up on a server with email on, then follows the verification link mailed to the address:
/// a person whose address is confirmed (who may invite, and spend beyond the allowance).
pub async fn verified(
    server: &crate::common::Server,
    smtp: &Smtp,
    email: &str,
) -> crate::rest::User {
    let user = crate::rest::register(server, email).await;
    let token = smtp
        .link_token(email, "Confirm your email", "verify", 1)
        .await;
    let (status, body, _) = crate::rest::call(
        server,
        reqwest::Method::POST,
        "/api/v1/auth/email/verify",
        None,
        Some(serde_json::json!({ "token": token })),
    )
    .await;
    assert_eq!(status, 204, "verify {email}: {body}");
    user
}
