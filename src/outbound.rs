//! Where outgoing HTTP (webhook deliveries, scheduled publishing) may go.
//!
//! Endpoint URLs come from account owners, so an unchecked POST would let any of them reach the
//! server's own network: cloud metadata at 169.254.169.254, Redis on the loopback, RabbitMQ,
//! the private LAN. The policy refuses loopback, private, link-local, unique-local, shared
//! (CGNAT), reserved, multicast and unspecified addresses (and their IPv4-mapped and NAT64 forms)
//! and every port but the allowed ones (80 and 443 by default), unless the operator allow-lists
//! a network (`outbound_allow`), where any port goes. It is checked where it cannot be dodged:
//! an IP-literal host before the request, a named host on every address it resolves to when the
//! connection is made (so DNS rebinding does not help), and redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a URL: {0}")]
    NotUrl(String),
    #[error("the URL must be http:// or https:// with a host")]
    Scheme,
    #[error("port {0} is not allowed for outgoing requests")]
    Port(u16),
    #[error("the address {0} is private, loopback or reserved")]
    Address(IpAddr),
}

#[derive(Debug, Clone)]
pub struct Policy {
    ports: Vec<u16>,
    allowed: Vec<IpNet>,
}

impl Policy {
    /// `ports`: comma-separated; `allow`: comma-separated networks (`10.0.0.0/8`, `::1/128`,
    /// or a bare address).
    pub fn parse(ports: &str, allow: &str) -> Result<Policy, String> {
        let items = |s: &str| {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let ports = items(ports)
            .iter()
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("outbound_ports: {p:?} is not a port"))
            })
            .collect::<Result<_, _>>()?;
        let allowed = items(allow)
            .iter()
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("outbound_allow: {n:?} is not a network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { ports, allowed })
    }

    fn allow_listed(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|n| n.contains(&ip))
    }

    /// Whether a connection to `ip` may be made.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_listed(ip) || is_public(ip)
    }

    /// Checks a URL before anything is sent: scheme, port, and the host when it is an address.
    pub fn check_url(&self, raw: &str) -> Result<Url, Refused> {
        let url = Url::parse(raw).map_err(|e| Refused::NotUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Scheme);
        }
        let literal = match url.host() {
            None => return Err(Refused::Scheme),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
        };
        if let Some(ip) = literal {
            if !self.allows(ip) {
                return Err(Refused::Address(ip));
            }
        }
        let port = url.port_or_known_default().ok_or(Refused::Scheme)?;
        let listed = literal.is_some_and(|ip| self.allow_listed(ip));
        if !listed && !self.ports.contains(&port) {
            return Err(Refused::Port(port));
        }
        Ok(url)
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only
        }
    }
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail());
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || a >= 240) // reserved
}

/// Resolves names the usual way, then keeps only the addresses the policy allows: the check
/// happens on the addresses actually connected to.
struct CheckedResolver {
    policy: Arc<Policy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                metrics::counter!("creo_outbound_refused_total", "reason" => "address")
                    .increment(1);
                return Err(format!("{host} resolves to no allowed address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The policy and the HTTP client of every outgoing request. The client uses the policy's
/// resolver, follows no redirects and takes no proxy from the environment (a proxy would
/// connect on our behalf, past the resolver).
#[derive(Clone)]
pub struct Outbound {
    policy: Arc<Policy>,
    http: reqwest::Client,
}

impl Outbound {
    pub fn new(policy: Policy, timeout: Duration) -> Outbound {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: policy.clone(),
            }))
            .build()
            .expect("an HTTP client with rustls always builds");
        Outbound { policy, http }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A POST to `url`, checked against the policy first (the resolver checks named hosts).
    pub fn post(&self, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        self.request(reqwest::Method::POST, url)
    }

    /// A request to `url`, checked against the policy first.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        let url = self.policy.check_url(url).inspect_err(|e| {
            metrics::counter!("creo_outbound_refused_total", "reason" => e.metric_reason())
                .increment(1);
        })?;
        Ok(self.http.request(method, url))
    }

    /// The body of `response`, refused past `limit` bytes: what a remote service answers is
    /// read only as far as we would use it.
    pub async fn bounded_body(
        mut response: reqwest::Response,
        limit: usize,
    ) -> Result<Vec<u8>, String> {
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > limit {
                return Err(format!("the answer is larger than {limit} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl Refused {
    pub fn metric_reason(&self) -> &'static str {
        match self {
            Refused::NotUrl(_) | Refused::Scheme => "url",
            Refused::Port(_) => "port",
            Refused::Address(_) => "address",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> Policy {
        Policy::parse("80,443", "").unwrap()
    }

    #[test]
    fn private_loopback_and_metadata_addresses_are_refused() {
        let p = default();
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:6379/",
            "http://10.0.0.1/",
            "http://2130706433/", // 127.0.0.1 in decimal
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://[2002:7f00:1::]/",
        ] {
            assert!(
                matches!(p.check_url(url), Err(Refused::Address(_))),
                "{url}: {:?}",
                p.check_url(url)
            );
        }
        assert!(p.check_url("https://93.184.215.14/hook").is_ok());
        assert!(p.check_url("https://hooks.example.com/x").is_ok());
    }

    #[test]
    fn only_allowed_ports_and_schemes() {
        let p = default();
        assert_eq!(
            p.check_url("http://localhost:5672/"),
            Err(Refused::Port(5672))
        );
        assert_eq!(
            p.check_url("https://example.com:8443/"),
            Err(Refused::Port(8443))
        );
        assert_eq!(p.check_url("ftp://example.com/"), Err(Refused::Scheme));
        assert!(p.check_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn an_operator_allow_lists_internal_networks_on_any_port() {
        let p = Policy::parse("443", "127.0.0.0/8, ::1, 10.1.0.0/16").unwrap();
        assert!(p.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(p.check_url("http://[::1]:9000/hook").is_ok());
        assert!(p.check_url("http://10.1.2.3:8080/").is_ok());
        assert!(p.check_url("http://10.2.0.1/").is_err());
        assert!(Policy::parse("80,x", "").is_err());
        assert!(Policy::parse("80", "not-a-net").is_err());
    }

    #[tokio::test]
    async fn names_are_checked_on_the_addresses_they_resolve_to() {
        let resolver = CheckedResolver {
            policy: Arc::new(default()),
        };
        let refused = resolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost resolves to loopback only");
        assert!(refused.to_string().contains("no allowed address"));
        let allowed = CheckedResolver {
            policy: Arc::new(Policy::parse("80", "127.0.0.0/8,::1").unwrap()),
        };
        assert!(allowed.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
