//! Which proxies are believed when they say who the client is. The address is the peer's; a
//! header such as `X-Forwarded-For` is believed only when the peer is a configured trusted
//! proxy, and then its right-most address that is not itself a trusted proxy is taken
//! (anything to its left was written by the client).

use std::net::IpAddr;

use ipnet::IpNet;

/// The proxies whose client-address header is believed.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    trusted: Vec<IpNet>,
    header: String,
}

impl Proxies {
    /// `trusted`: comma-separated networks or addresses; `header`: e.g. `x-forwarded-for`.
    pub fn parse(trusted: &str, header: &str) -> Result<Proxies, String> {
        let trusted = trusted
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<IpNet>()
                    .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {t:?} is not a network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Proxies {
            trusted,
            header: header.to_ascii_lowercase(),
        })
    }

    /// The header holding the client's address (lower case); empty when none is believed.
    pub fn header(&self) -> &str {
        &self.header
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request that came from `peer` with `forwarded` (the header's
    /// values, in order).
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .rev()
            .filter_map(|a| parse_forwarded(a.trim()))
            .find(|ip| !self.trusts(*ip))
            .unwrap_or(peer)
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`.
fn parse_forwarded(a: &str) -> Option<IpAddr> {
    a.parse()
        .ok()
        .or_else(|| a.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let none = Proxies::parse("", "x-forwarded-for").unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(none.client(client, &["1.1.1.1"]), client);
        let proxied = Proxies::parse("10.0.0.0/8", "x-forwarded-for").unwrap();
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        // The client wrote "1.1.1.1" itself; the proxy appended what it saw.
        assert_eq!(
            proxied.client(proxy, &["1.1.1.1, 198.51.100.7"]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // Chained trusted proxies are skipped from the right.
        assert_eq!(
            proxied.client(proxy, &["198.51.100.7, 10.0.0.3"]),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            proxied.client(proxy, &["[2001:db8::1]:443"]),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(proxied.client(proxy, &["garbage"]), proxy);
        assert_eq!(proxied.client(client, &["1.1.1.1"]), client);
    }
}
