//! `--trusted-proxies`: whose `X-Forwarded-For` to believe. Behind nginx every connection
//! comes from nginx's address, so the per-address connect rate would throttle all clients
//! together; a request from a trusted proxy is counted under the address that proxy says it
//! came from. Only trusted proxies are believed: anyone can send the header.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// Addresses (or networks) of the proxies in front of this node.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(address))
    }

    /// The client's address: the peer's own, unless the peer is a trusted proxy; then the
    /// nearest address in `X-Forwarded-For` that is not a trusted proxy (proxies append, so
    /// the list is read from the right), or the peer's if the header has none.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`.
        let peer = peer.to_canonical();
        if !self.trusts(&peer) {
            return peer;
        }
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).map(str::trim).collect();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>().map(|a| a.to_canonical()) {
                Ok(address) if self.trusts(&address) => continue,
                Ok(address) => return address,
                // A hop we cannot read: what lies before it cannot be trusted either.
                Err(_) => return peer,
            }
        }
        peer
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses or networks: `127.0.0.1,10.0.0.0/8,::1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |item: &str| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is neither an address nor a network (e.g. 10.0.0.0/8)"))
        };
        s.split(',').map(str::trim).filter(|i| !i.is_empty()).map(parse).collect::<Result<_, _>>().map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::TrustedProxies;
    use axum::http::HeaderMap;
    use std::net::IpAddr;

    fn headers(forwarded: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", forwarded.parse().unwrap());
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_trusted_proxy_is_counted_under_the_client_it_names() {
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers("203.0.113.7")), ip("203.0.113.7"));
        // A client that sends its own header cannot choose its address: the proxy appended
        // the real one, and it is the rightmost untrusted hop.
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers("1.2.3.4, 203.0.113.7, 10.1.1.1")), ip("203.0.113.7"));
        assert_eq!(proxies.client(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
        assert_eq!(proxies.client(ip("127.0.0.1"), &headers("junk, 10.1.1.1")), ip("127.0.0.1"));
        // A dual-stack listener's view of an IPv4 proxy is the same proxy.
        assert_eq!(proxies.client(ip("::ffff:127.0.0.1"), &headers("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn anyone_else_is_counted_under_their_own_address() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        assert_eq!(proxies.client(ip("198.51.100.9"), &headers("203.0.113.7")), ip("198.51.100.9"));
        assert_eq!(TrustedProxies::default().client(ip("127.0.0.1"), &headers("203.0.113.7")), ip("127.0.0.1"));
        assert!("127.0.0.1,nonsense".parse::<TrustedProxies>().is_err());
    }
}
