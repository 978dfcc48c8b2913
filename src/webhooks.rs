//! Outgoing webhooks: an account registers endpoints for the events it wants, and every such
//! event becomes one delivery job per endpoint (`jobs/deliver.rs`): signed with the endpoint's
//! secret, retried with backoff, held back by the destination's circuit breaker, and logged
//! attempt by attempt in the endpoint's delivery log. The data is `creo_core::webhooks`; what
//! needs the network (checking a URL against the outbound policy, naming its destination) is
//! here.

pub use creo_core::webhooks::*;

/// Checks an endpoint URL: absolute http(s), with a host the outbound policy allows (an
/// address literal is checked now; a name is checked on every address it resolves to when a
/// delivery connects).
pub fn validate_url(raw: &str, policy: &crate::outbound::Policy) -> Result<reqwest::Url, String> {
    if raw.len() > 2_000 {
        return Err("the URL is longer than 2000 characters".into());
    }
    policy.check_url(raw).map_err(|e| e.to_string())
}

/// Where a URL's traffic goes, for the circuit breaker: scheme, host and port.
pub fn destination(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let policy = crate::outbound::Policy::parse("80,443", "").unwrap();
        assert!(validate_url("http://127.0.0.1:9/hook", &policy).is_err());
        assert!(validate_url("https://hooks.example.com/x", &policy).is_ok());
        assert!(validate_url("ftp://example.com", &policy).is_err());
        assert!(validate_url("/relative", &policy).is_err());
    }

    #[test]
    fn one_destination_per_origin() {
        assert_eq!(
            destination("http://h:8080/a?b"),
            destination("http://h:8080/c")
        );
        assert_eq!(destination("https://h/x"), "https://h:443");
        assert_ne!(destination("http://h:1/"), destination("http://h:2/"));
    }
}
