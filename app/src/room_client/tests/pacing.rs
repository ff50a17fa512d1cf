//! Pacing: posts keep to the rate the server advertised, and keep their order.

use super::*;
use crate::protocol::{RateLimit, PROTOCOL_VERSION};

fn hello(per_sec: u32, burst: u32) -> ServerMsg {
    let rate = Some(RateLimit { per_sec, burst });
    ServerMsg::Hello { protocol: PROTOCOL_VERSION, max_message_bytes: 65_536, session: None, rate }
}

#[test]
fn a_burst_of_posts_goes_at_the_pace_the_server_advertised() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let _ = c.on_message(hello(20, 40), 0);
    for i in 0..100 {
        let _ = c.post(id(&format!("c{i}")), text(), 1);
    }
    // Half the burst at once, then 80 % of the rate: never what the server would refuse.
    let first = posted_ids(&c.on_message(joined(vec![], &[]), 2));
    assert_eq!(first.len(), 19, "the join took one of 20");
    assert_eq!(first[0], "c0", "oldest first");
    let next = posted_ids(&c.on_tick(1_002));
    assert_eq!(next.len(), 16);
    assert_eq!(next[0], "c19", "in order");
    let mut sent = first.len() + next.len();
    let mut now = 1_002;
    while sent < 100 {
        now += 1_000;
        sent += posted_ids(&c.on_tick(now)).len();
    }
    assert_eq!(now, 6_002, "100 posts in about 5 s");
}

#[test]
fn typing_gives_way_when_the_rate_is_spent_and_a_server_without_limits_is_not_paced() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let _ = c.on_message(hello(1, 2), 0);
    let _ = c.on_message(joined(vec![], &[]), 0);
    assert!(c.typing(0).send.is_empty(), "the join spent the only token");
    assert_eq!(c.typing(1_250).send.len(), 1, "refilled");

    let mut unlimited = live(None);
    let step = (0..50).fold(Step::default(), |mut all, i| {
        all.send.extend(unlimited.post(id(&format!("c{i}")), text(), 1).send);
        all
    });
    assert_eq!(posted_ids(&step).len(), 50, "no rate in hello: nothing held back");
}

#[test]
fn a_post_waiting_to_be_retried_is_not_overtaken_by_a_newer_one() {
    let mut c = live(None);
    let _ = c.post(id("c0"), text(), 10);
    let _ = c.on_message(error(ErrorCode::RateLimited, Some("c0")), 20);
    assert!(posted_ids(&c.post(id("c1"), text(), 30)).is_empty(), "c1 waits behind c0");
    assert_eq!(posted_ids(&c.on_tick(1_020)), ["c0", "c1"], "in the order written");
}

#[test]
fn a_rate_of_zero_is_no_limit_at_all() {
    let mut c = RoomClient::new(room(), Some(name("al")), None, Vec::new());
    let _ = c.on_open(0);
    let _ = c.on_message(hello(0, 0), 0);
    let _ = c.on_message(joined(vec![], &[]), 0);
    assert_eq!(posted_ids(&c.post(id("c1"), text(), 1)), ["c1"], "not held back forever");
}
