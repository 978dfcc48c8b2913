//! Who is on the other end of a request when nobody is signed in: the client's address, and the
//! limits counted per address (sign-in, sign-up and the other unauthenticated routes, socket
//! upgrades).
//!
//! The address is the peer's. A header such as `X-Forwarded-For` is believed only when the peer
//! is a configured trusted proxy, and then its right-most address that is not itself a trusted
//! proxy is taken (anything to its left was written by the client). IPv6 clients are counted
//! per /64, what one host usually holds.

use std::net::{IpAddr, Ipv6Addr};

use super::{ApiError, Head};
use crate::app::proxies::Proxies;
use crate::app::AppState;
use crate::http::Code;

/// The client address of `req`.
pub fn client_address(req: &impl Head, proxies: &Proxies) -> IpAddr {
    let head = req.request_head();
    let peer = head
        .peer_addr
        .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip());
    if proxies.header().is_empty() {
        return peer;
    }
    let forwarded: Vec<&str> = head
        .headers()
        .get_all(proxies.header())
        .filter_map(|v| v.to_str().ok())
        .collect();
    proxies.client(peer, &forwarded)
}

/// How an address is counted: IPv4 whole, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

/// What is counted per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Sign-in, refresh, invitation acceptance, the payment webhook.
    Auth,
    /// New accounts (each comes with free credits).
    Signup,
    /// WebSocket upgrades.
    Upgrade,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Signup => "signup",
            Class::Upgrade => "upgrade",
        }
    }
}

/// Counts one request of `class` from the client's address; 429 with `Retry-After` over the
/// limit. Returns the address.
pub async fn limit(req: &impl Head, state: &AppState, class: Class) -> Result<IpAddr, ApiError> {
    let ip = client_address(req, &state.proxies);
    let c = &state.config;
    let (allowance, window_secs, window) = match class {
        Class::Auth => (c.auth_requests_per_minute, 60, "minute"),
        Class::Signup => (c.signups_per_hour, 3_600, "hour"),
        Class::Upgrade => (c.upgrades_per_minute, 60, "minute"),
    };
    if allowance == 0 {
        return Ok(ip);
    }
    let key = format!("address:{}:{}", class.name(), address_key(ip));
    if let Err(limited) = state
        .request_limits
        .check_window(&key, allowance, window_secs, window)
        .await
    {
        metrics::counter!("creo_refused_requests_total", "reason" => class.name()).increment(1);
        return Err(ApiError::new(
            Code::TooManyRequests,
            format!("too many {} requests from this address", class.name()),
        )
        .retry_after(limited.retry_after.as_secs().clamp(1, 3600) as u32));
    }
    Ok(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.4");
    }
}
