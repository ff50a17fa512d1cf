use super::{Gap, Order, Released, FILL_MAX, GIVE_UP_AFTER};
use app::protocol::Post;
use proptest::prelude::*;
use std::time::Duration;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_millis(50);

fn post(seq: u64) -> Post {
    serde_json::from_value(serde_json::json!({
        "room": "lobby", "seq": seq, "client_id": format!("c{seq}"), "username": "ann", "text": "hi", "ts": 1
    }))
    .unwrap()
}

fn lobby() -> app::domain::RoomName {
    "lobby".parse().unwrap()
}

fn seqs(released: Vec<Released>) -> Vec<u64> {
    released.iter().map(Released::seq).collect()
}

fn followed(head: u64) -> Order {
    let mut order = Order::new(WAIT, [(lobby(), head)]);
    order.follow(&lobby());
    order
}

#[test]
fn posts_in_order_go_out_at_once_and_a_repeat_is_dropped() {
    let (mut order, now) = (followed(3), Instant::now());
    assert_eq!(seqs(order.offer(post(4), now)), [4]);
    assert_eq!(seqs(order.offer(post(5), now)), [5]);
    assert_eq!(seqs(order.offer(post(5), now)), Vec::<u64>::new(), "the bus echoing a post");
    assert_eq!(seqs(order.offer(post(2), now)), Vec::<u64>::new(), "stored before the room was followed");
    assert_eq!(order.due(), None);
}

#[test]
fn a_post_beyond_a_missing_one_waits_for_it() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(2), now).is_empty());
    assert!(order.offer(post(3), now).is_empty());
    assert_eq!(order.due(), Some(now + WAIT));
    assert_eq!(seqs(order.offer(post(1), now)), [1, 2, 3]);
    assert_eq!(order.due(), None, "nothing left to read");
}

#[test]
fn a_gap_still_open_after_the_wait_is_read_from_the_store() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(3), now).is_empty());
    assert!(order.gaps(now).is_empty(), "not before the wait");
    let later = now + WAIT;
    let gaps = order.gaps(later);
    assert_eq!(gaps, [Gap { room: lobby(), after: 0, upto: 2 }]);
    assert_eq!(order.due(), None, "a gap being read is not asked for again");
    assert_eq!(seqs(order.filled(&gaps[0], vec![post(1), post(2)], vec![], later)), [1, 2, 3]);
    assert_eq!(order.stats().fills_after_bus, 1);
}

#[test]
fn the_heads_check_finds_a_last_post_never_published() {
    let (mut order, now) = (followed(0), Instant::now());
    assert_eq!(seqs(order.offer(post(1), now)), [1]);
    assert!(order.head(&lobby(), 2, now).is_empty());
    let gaps = order.gaps(now + WAIT);
    assert_eq!(gaps, [Gap { room: lobby(), after: 1, upto: 2 }]);
    assert_eq!(order.stats().fills_after_heads, 1);
    assert_eq!(seqs(order.filled(&gaps[0], vec![post(2)], vec![], now + WAIT)), [2]);
}

#[test]
fn a_long_gap_is_read_in_turns() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(FILL_MAX + 6), now).is_empty());
    let first = order.gaps(now + WAIT);
    assert_eq!(first[0].upto, FILL_MAX);
    let read: Vec<Post> = (1..=FILL_MAX).map(post).collect();
    assert_eq!(order.filled(&first[0], read, vec![], now + WAIT).len() as u64, FILL_MAX);
    let second = order.gaps(now + WAIT);
    assert_eq!(second, [Gap { room: lobby(), after: FILL_MAX, upto: FILL_MAX + 5 }]);
    let rest = order.filled(&second[0], (FILL_MAX + 1..=FILL_MAX + 5).map(post).collect(), vec![], now + WAIT);
    assert_eq!(seqs(rest), (FILL_MAX + 1..=FILL_MAX + 6).collect::<Vec<_>>());
}

#[test]
fn a_failing_store_is_retried_then_the_gap_given_up() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(2), now).is_empty());
    let gap = order.gaps(now + WAIT).remove(0);
    assert!(order.fill_failed(&gap, now + WAIT).is_empty());
    assert_eq!(order.due(), Some(now + 2 * WAIT), "read again after another wait");
    let gap = order.gaps(now + 2 * WAIT).remove(0);
    assert_eq!(seqs(order.fill_failed(&gap, now + GIVE_UP_AFTER)), [2], "given up: the post after it goes out");
    assert_eq!(order.stats().given_up, 1);
    assert_eq!(order.due(), None);
}

#[test]
fn seqs_the_store_does_not_have_are_given_up() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(3), now).is_empty());
    let gap = order.gaps(now + WAIT).remove(0);
    assert_eq!(seqs(order.filled(&gap, Vec::new(), vec![], now + WAIT)), [3]);
}

#[test]
fn a_room_nobody_here_is_in_only_moves_its_cursor() {
    let (mut order, now) = (Order::new(WAIT, []), Instant::now());
    assert_eq!(seqs(order.offer(post(5), now)), [5], "nothing to wait for");
    assert!(order.head(&lobby(), 7, now).is_empty());
    assert_eq!(order.due(), None);
    order.follow(&lobby());
    assert_eq!(order.delivered(&lobby()), 7);
    assert_eq!(seqs(order.offer(post(8), now)), [8]);
}

#[test]
fn a_room_first_heard_of_in_a_heads_read_starts_at_its_head() {
    let (mut order, now) = (Order::new(WAIT, []), Instant::now());
    assert!(order.head(&lobby(), 900, now).is_empty());
    order.follow(&lobby());
    assert_eq!(seqs(order.offer(post(901), now)), [901], "nothing to read back from seq 1");
    assert_eq!(order.due(), None);
}

#[test]
fn leaving_the_last_member_releases_what_waited() {
    let (mut order, now) = (followed(0), Instant::now());
    assert!(order.offer(post(3), now).is_empty());
    assert_eq!(seqs(order.unfollow(&lobby())), [3]);
    assert_eq!(order.delivered(&lobby()), 3);
    assert_eq!(order.due(), None);
}

proptest! {
    /// Whatever order the bus brings a room's posts in, and whichever it loses, the room's
    /// members get every post once, in seq order, once the gaps are read and the heads checked.
    #[test]
    fn every_post_goes_out_once_in_order(
        n in 1u64..60,
        keys in proptest::collection::vec(any::<u32>(), 60),
        lost in proptest::collection::vec(any::<bool>(), 60),
    ) {
        let mut heard: Vec<u64> = (1..=n).filter(|seq| !lost[*seq as usize - 1]).collect();
        heard.sort_by_key(|seq| keys[*seq as usize - 1]);
        let (mut order, mut now) = (followed(0), Instant::now());
        let mut out = Vec::new();
        let fill = |order: &mut Order, now, out: &mut Vec<u64>| {
            for gap in order.gaps(now) {
                let posts = (gap.after + 1..=gap.upto).map(post).collect();
                out.extend(seqs(order.filled(&gap, posts, vec![], now)));
            }
        };
        for seq in heard {
            now += Duration::from_millis(u64::from(keys[seq as usize - 1] % 80));
            fill(&mut order, now, &mut out);
            out.extend(seqs(order.offer(post(seq), now)));
        }
        out.extend(seqs(order.head(&lobby(), n, now)));
        while let Some(due) = order.due() {
            now = now.max(due);
            fill(&mut order, now, &mut out);
        }
        prop_assert_eq!(out, (1..=n).collect::<Vec<_>>());
        prop_assert_eq!(order.stats().given_up, 0);
    }
}

#[test]
fn a_deleted_post_goes_out_as_its_tombstone_in_its_place_whichever_comes_first() {
    let removed = |seq| Released::Removed { room: lobby(), seq };
    let (mut order, now) = (followed(3), Instant::now());
    assert_eq!(order.removed(&lobby(), 2, now), [removed(2)], "delivered already: told at once");
    assert_eq!(order.offer(post(5), now), [], "5 waits for 4");
    assert_eq!(order.removed(&lobby(), 5, now), [], "5 still waits, as a tombstone now");
    assert_eq!(order.removed(&lobby(), 6, now), [], "deleted before it was heard");
    assert_eq!(order.offer(post(6), now), [], "and the post heard after its deletion stays deleted");
    assert_eq!(order.offer(post(4), now), [Released::Post(post(4)), removed(5), removed(6)]);
    let (mut order, now) = (followed(3), Instant::now());
    order.offer(post(6), now);
    let gaps = order.gaps(now + WAIT);
    assert_eq!(seqs(order.filled(&gaps[0], vec![post(4)], vec![5], now + WAIT)), [4, 5, 6], "a fill's tombstone");
}

#[test]
fn a_deletion_heard_in_a_room_nobody_here_follows_keeps_its_post_from_going_out_later() {
    let (mut order, now) = (Order::new(WAIT, [(lobby(), 3)]), Instant::now());
    assert_eq!(seqs(order.removed(&lobby(), 4, now)), [4]);
    order.follow(&lobby());
    assert_eq!(order.offer(post(4), now), [], "the post heard after its deletion is not released");
    assert_eq!(seqs(order.offer(post(5), now)), [5]);
}
