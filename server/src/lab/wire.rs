//! Counting bytes on the wire, per run and transport, so the lessons can show what each
//! transport really costs instead of assuming it.

use app::lab::{WireCount, WireReport};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Runs remembered at once; the oldest is forgotten first.
const RUNS_KEPT: usize = 256;

/// hyper adds `date: <29-character IMF-fixdate>\r\n` to every response.
const DATE_HEADER_BYTES: u64 = 37;

#[derive(Clone, Default)]
pub struct Ledger {
    inner: Arc<Mutex<Runs>>,
}

#[derive(Default)]
struct Runs {
    reports: HashMap<String, WireReport>,
    order: VecDeque<String>,
}

impl Ledger {
    pub fn add(&self, run: &str, transport: &str, update: impl FnOnce(&mut WireCount)) {
        let Ok(mut runs) = self.inner.lock() else { return };
        if !runs.reports.contains_key(run) {
            if runs.order.len() >= RUNS_KEPT {
                if let Some(old) = runs.order.pop_front() {
                    runs.reports.remove(&old);
                }
            }
            runs.order.push_back(run.to_owned());
        }
        update(runs.reports.entry(run.to_owned()).or_default().entry(transport.to_owned()).or_default());
    }

    pub fn report(&self, run: &str) -> WireReport {
        self.inner.lock().ok().and_then(|r| r.reports.get(run).cloned()).unwrap_or_default()
    }
}

fn header_lines(headers: &HeaderMap) -> u64 {
    headers.iter().map(|(name, value)| (name.as_str().len() + 2 + value.len() + 2) as u64).sum()
}

/// Bytes of an HTTP/1.1 request's head: request line, header lines, blank line.
pub fn request_head_bytes(method: &Method, uri: &Uri, headers: &HeaderMap) -> u64 {
    let target = uri.path_and_query().map_or(uri.path().len(), |p| p.as_str().len());
    (method.as_str().len() + 1 + target + 1 + "HTTP/1.1\r\n".len()) as u64 + header_lines(headers) + 2
}

/// Bytes of an HTTP/1.1 response's head as hyper writes it: status line, the headers set,
/// hyper's `date`, blank line.
pub fn response_head_bytes(status: StatusCode, headers: &HeaderMap) -> u64 {
    let reason = status.canonical_reason().unwrap_or("");
    ("HTTP/1.1 ".len() + 3 + 1 + reason.len() + 2) as u64 + header_lines(headers) + DATE_HEADER_BYTES + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_counts_every_byte() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "a:1".parse().unwrap());
        // "POST /e?run=x HTTP/1.1\r\n" (24) + "host: a:1\r\n" (11) + "\r\n" (2)
        assert_eq!(request_head_bytes(&Method::POST, &"/e?run=x".parse().unwrap(), &headers), 37);
        // "HTTP/1.1 200 OK\r\n" (17) + date (37) + "\r\n" (2)
        assert_eq!(response_head_bytes(StatusCode::OK, &HeaderMap::new()), 56);
    }

    #[test]
    fn the_ledger_forgets_the_oldest_run() {
        let ledger = Ledger::default();
        for i in 0..=RUNS_KEPT {
            ledger.add(&format!("run{i}"), "ws", |c| c.messages_up += 1);
        }
        assert!(ledger.report("run0").is_empty());
        assert_eq!(ledger.report(&format!("run{RUNS_KEPT}"))["ws"].messages_up, 1);
    }
}
