//! A keep-alive HTTP/1.1 receiver that answers 200 to everything, for the tools that measure
//! creo's outgoing requests (webhook deliveries, publishing): each request's body is handed to
//! `on_request` as it arrives.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Listens on the loopback; the URL to send to.
pub async fn receiver(
    on_request: impl Fn(Vec<u8>) + Send + Sync + 'static,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let on_request = Arc::new(on_request);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let on_request = on_request.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = buf[head_end..head_end + length].to_vec();
                    buf.drain(..head_end + length);
                    on_request(body);
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}
