//! A local HTTP destination for webhook and publishing tests: records every request and
//! answers each with the status and delay the test chooses for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// The request line and headers.
    pub head: String,
    pub at: SystemTime,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        header(&self.head, name)
    }

    pub fn signature(&self) -> &str {
        self.header("creo-signature")
    }

    pub fn idempotency_key(&self) -> &str {
        self.header("idempotency-key")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// The destination: records requests, answers `status` after `delay` (per request
/// number).
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim())
        })
        .unwrap_or("")
}

pub async fn receiver(
    answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static,
) -> Receiver {
    receiver_with_location(answer, false).await
}

/// A destination that answers every request with a redirect to itself (`Location`), so a client
/// that follows redirects comes back.
pub async fn redirecting_receiver() -> Receiver {
    receiver_with_location(|_| (302, Duration::ZERO), true).await
}

async fn receiver_with_location(
    answer: impl Fn(usize) -> (u16, Duration) + Send + Sync + 'static,
    redirect_to_self: bool,
) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let location = if redirect_to_self {
        format!("location: {url}/again\r\n")
    } else {
        String::new()
    };
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let (record, answer) = (got.clone(), Arc::new(answer));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (record, answer, location) = (record.clone(), answer.clone(), location.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length: usize = header(&head, "content-length").parse().unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let n = {
                    let mut got = record.lock().unwrap();
                    got.push(Received {
                        head,
                        at: SystemTime::now(),
                        body: buf[head_end..head_end + length].to_vec(),
                    });
                    got.len()
                };
                let (status, delay) = answer(n);
                tokio::time::sleep(delay).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\n{location}content-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    Receiver { url, got }
}
