use super::*;
use app::domain::{ClientId, PostText, Username};

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn post(room_name: &str, seq: u64, text: &str) -> Post {
    Post {
        room: room(room_name),
        seq,
        client_id: ClientId::parse(&format!("c-{seq}")).unwrap(),
        username: Username::parse("alice").unwrap(),
        text: PostText::parse(text).unwrap(),
        ts: seq as i64,
        fingerprint: None,
    }
}

/// What a database read of `room`'s newest [`TAIL_LEN`] entries would give for seqs
/// `1..=last`, `removed` among them tombstones.
fn read(room_name: &str, last: u64, removed: &[u64]) -> Tail {
    let first = last.saturating_sub(u64::from(TAIL_LEN)) + 1;
    let mut entries = Entries::default();
    for seq in first..=last {
        match removed.contains(&seq) {
            true => entries.removed.push(seq),
            false => entries.posts.push(post(room_name, seq, &format!("post {seq}"))),
        }
    }
    Tail::read(entries, first > 1)
}

/// Keeps a tail of lobby (seqs 1 to 3) whose read started [`TRUSTED_FOR`] ago: due to be
/// read again.
fn keep_read_long_ago(tails: &Tails) {
    let mut long_ago = tails.before_reading(&room("lobby"));
    long_ago.at -= TRUSTED_FOR;
    tails.keep(&room("lobby"), long_ago, read("lobby", 3, &[]));
}

fn seqs(page: &(Entries, bool)) -> (Vec<u64>, Vec<u64>, bool) {
    (page.0.posts.iter().map(|p| p.seq).collect(), page.0.removed.clone(), page.1)
}

#[test]
fn a_tail_answers_the_first_page_as_the_database_would() {
    let tail = read("lobby", 60, &[55, 60]);
    let (posts, removed, has_older) = seqs(&tail.page(TAIL_LEN));
    assert_eq!(posts.len() + removed.len(), TAIL_LEN as usize);
    assert_eq!((posts[0], *posts.last().unwrap(), removed, has_older), (11, 59, vec![55, 60], true));
    assert_eq!(seqs(&tail.page(3)), (vec![58, 59], vec![60], true), "the newest three, older ones exist");
    let small = read("lobby", 2, &[]);
    assert_eq!(seqs(&small.page(TAIL_LEN)), (vec![1, 2], vec![], false), "the whole room");
    assert_eq!(seqs(&small.page(1)), (vec![2], vec![], true));
}

#[test]
fn a_first_page_carries_each_posts_json_made_once_when_the_post_joined_the_tail() {
    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[2]));
    tails.stored(&[Inserted::New(post("lobby", 4, "a \"new\" one </script>"))]);
    let (first, _) = tails.first_page(&room("lobby"), TAIL_LEN).unwrap();
    let (again, _) = tails.first_page(&room("lobby"), TAIL_LEN).unwrap();
    let (json, again_json) = (first.posts_json.unwrap(), again.posts_json.unwrap());
    let made: Vec<PostJson> = first.posts.iter().map(PostJson::of).collect();
    assert_eq!(first.posts.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 3, 4]);
    assert_eq!(json, made, "each post's own JSON, in order, the appended one too");
    assert!(json.iter().zip(&again_json).all(|(a, b)| a.shares(b)), "kept, not made again per page");
}

#[test]
fn new_posts_join_the_tail_in_order_and_a_gap_ends_it() {
    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 49, &[]));
    tails.stored(&[Inserted::New(post("lobby", 50, "fifty")), Inserted::New(post("lobby", 51, "fifty-one"))]);
    let (posts, _, has_older) = seqs(&tails.first_page(&room("lobby"), TAIL_LEN).unwrap());
    assert_eq!((posts[0], *posts.last().unwrap(), posts.len(), has_older), (2, 51, 50, true));

    tails.stored(&[Inserted::New(post("lobby", 51, "fifty-one"))]);
    assert_eq!(seqs(&tails.first_page(&room("lobby"), 1).unwrap()).0, vec![51], "a post it has is not added twice");
    tails.stored(&[Inserted::Duplicate(post("lobby", 52, "never stored here"))]);
    assert_eq!(seqs(&tails.first_page(&room("lobby"), 1).unwrap()).0, vec![51], "only new posts join");

    tails.stored(&[Inserted::New(post("lobby", 53, "after a gap"))]);
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "a tail missing seq 52 is gone");
}

#[test]
fn a_read_that_a_write_overlapped_is_not_kept() {
    let tails = Tails::new(true);
    let before_the_read = tails.before_reading(&room("lobby"));
    tails.stored(&[Inserted::New(post("lobby", 3, "stored while the page was read"))]);
    tails.keep(&room("lobby"), before_the_read, read("lobby", 2, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none());

    let before_the_read = tails.before_reading(&room("lobby"));
    tails.deleted(&room("lobby"), 1);
    tails.keep(&room("lobby"), before_the_read, read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "nor one a deletion overlapped");
}

#[test]
fn a_deleted_post_leaves_only_its_seq() {
    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[]));
    let version = tails.version();
    tails.deleted(&room("lobby"), 2);
    assert_ne!(tails.version(), version, "pages rendered before are out of date");
    let (page, _) = tails.first_page(&room("lobby"), TAIL_LEN).unwrap();
    assert_eq!(page.removed, vec![2]);
    assert!(page.posts.iter().all(|p| p.seq != 2 && p.text.as_str() != "post 2"));
}

#[test]
fn tails_are_kept_only_by_the_only_writer_and_forgotten_when_others_write() {
    let shared = Tails::new(false);
    shared.keep(&room("lobby"), shared.before_reading(&room("lobby")), read("lobby", 3, &[]));
    assert!(shared.first_page(&room("lobby"), TAIL_LEN).is_none());
    shared.stored(&[Inserted::New(post("lobby", 4, "four"))]);
    assert_eq!(shared.version(), 1, "the version still counts changes");

    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[]));
    tails.changed_elsewhere();
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none());
}

#[test]
fn tails_stay_within_their_room_and_byte_bounds() {
    let tails = Tails::new(true);
    for n in 0..MAX_ROOMS + 10 {
        let name = room(&format!("room-{n}"));
        tails.keep(&name, tails.before_reading(&name), read(name.as_str(), 1, &[]));
        tails.first_page(&room("room-0"), 1); // used all along: kept
    }
    let kept = tails.lock().unwrap();
    assert_eq!(kept.rooms.len(), MAX_ROOMS);
    assert!(kept.rooms.contains_key(&room("room-0")), "the least recently used go first");
    assert!(!kept.rooms.contains_key(&room("room-1")));
    drop(kept);

    let tails = Tails::new(true);
    tails.keep(&room("empty"), tails.before_reading(&room("empty")), read("empty", 0, &[]));
    let long = "x".repeat(2000);
    for n in 0..100 {
        let name = format!("big-{n}");
        let posts = (1..=u64::from(TAIL_LEN)).map(|seq| post(&name, seq, &long)).collect();
        let entries = Entries { posts, ..Entries::default() };
        tails.keep(&room(&name), tails.before_reading(&room(&name)), Tail::read(entries, false));
        tails.stored(&[Inserted::New(post(&name, u64::from(TAIL_LEN) + 1, &long))]);
    }
    let kept = tails.lock().unwrap();
    assert!(kept.bytes <= MAX_BYTES && kept.bytes > MAX_BYTES / 2, "{} bytes", kept.bytes);
    assert_eq!(kept.bytes, kept.rooms.values().map(|t| t.bytes).sum::<usize>(), "the count is exact");
    assert!(kept.rooms.contains_key(&room("empty")), "dropping an empty tail frees no bytes");
}

#[test]
fn a_tail_is_read_again_after_a_while() {
    let tails = Tails::new(true);
    keep_read_long_ago(&tails);
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "another process may have written since");
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_some(), "read again, it is trusted again");
}

#[test]
fn pages_of_made_up_rooms_push_out_no_tail_with_posts() {
    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[]));
    tails.keep(&room("new"), tails.before_reading(&room("new")), read("new", 0, &[]));
    assert_eq!(tails.first_page(&room("new"), TAIL_LEN).map(|p| seqs(&p)), Some((vec![], vec![], false)));
    for n in 0..MAX_ROOMS * 2 {
        let name = room(&format!("made-up-{n}"));
        tails.keep(&name, tails.before_reading(&name), read("made-up", 0, &[]));
    }
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_some(), "the least recently used, but not empty");
    assert_eq!(tails.lock().unwrap().rooms.len(), MAX_ROOMS);
}

#[test]
fn a_write_that_never_says_how_it_ended_forgets_every_tail() {
    let tails = Tails::new(true);
    tails.keep(&room("lobby"), tails.before_reading(&room("lobby")), read("lobby", 3, &[]));
    tails.write().unchanged();
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_some(), "a refused deletion changes nothing");
    let cancelled = tails.write();
    drop(cancelled);
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "a commit the tails did not see");
}

#[test]
fn a_re_read_is_kept_while_other_rooms_are_written_but_not_when_its_own_is() {
    let tails = Tails::new(true);
    keep_read_long_ago(&tails);
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "due to be read again");

    let before_the_read = tails.before_reading(&room("lobby"));
    tails.stored(&[Inserted::New(post("other", 9, "another room's post"))]);
    tails.keep(&room("lobby"), before_the_read, read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_some(), "the busy server's other rooms do not matter");

    keep_read_long_ago(&tails);
    let before_the_read = tails.before_reading(&room("lobby"));
    tails.stored(&[Inserted::New(post("lobby", 4, "stored while the page was read"))]);
    tails.keep(&room("lobby"), before_the_read, read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "a read that may have missed seq 4");
}

#[test]
fn a_re_read_is_not_kept_when_its_room_had_a_post_deleted_or_its_tail_was_replaced() {
    let tails = Tails::new(true);
    keep_read_long_ago(&tails);
    let before_the_read = tails.before_reading(&room("lobby"));
    tails.deleted(&room("lobby"), 2);
    tails.keep(&room("lobby"), before_the_read, read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "a read that may still hold post 2's text");

    keep_read_long_ago(&tails);
    let before_the_read = tails.before_reading(&room("lobby"));
    tails.stored(&[Inserted::New(post("lobby", 9, "a gap: the tail is forgotten"))]);
    keep_read_long_ago(&tails); // another tail for the room, as unchanged as the first was
    tails.keep(&room("lobby"), before_the_read, read("lobby", 3, &[]));
    assert!(tails.first_page(&room("lobby"), TAIL_LEN).is_none(), "judged by the tail it started from");
}
