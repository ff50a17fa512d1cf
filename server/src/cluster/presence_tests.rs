use super::{Flip, Replicas, RoomPresence, Version, SILENT_MAX};
use crate::cluster::NodeName;
use app::domain::{RoomName, Username};
use std::collections::HashMap;
use tokio::time::Instant;

fn node(name: &str) -> NodeName {
    name.parse().unwrap()
}

fn lobby() -> RoomName {
    "lobby".parse().unwrap()
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

fn people(names: &[&str], watching: u32) -> RoomPresence {
    RoomPresence { people: names.iter().map(|n| user(n)).collect(), watching }
}

fn v(count: u64) -> Version {
    Version { incarnation: 7, count }
}

#[test]
fn a_person_on_two_nodes_arrives_once_and_leaves_with_the_last() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let (flips, read) = replicas.room_changed(&node("a"), v(1), lobby(), people(&["ann"], 0), now);
    assert_eq!(flips, [(lobby(), Flip::Arrived(user("ann")))]);
    assert!(!read, "the first message of a run needs no snapshot");
    let (flips, _) = replicas.room_changed(&node("b"), v(1), lobby(), people(&["ann", "bo"], 2), now);
    assert_eq!(flips, [(lobby(), Flip::Arrived(user("bo"))), (lobby(), Flip::Watching(2))]);
    assert_eq!(replicas.room(&lobby()).unwrap().people.len(), 2);
    let (flips, _) = replicas.room_changed(&node("b"), v(2), lobby(), people(&[], 0), now);
    assert_eq!(flips, [(lobby(), Flip::Left(user("bo"))), (lobby(), Flip::Watching(0))], "ann is still on a");
    let (flips, _) = replicas.room_changed(&node("a"), v(2), lobby(), people(&[], 0), now);
    assert_eq!(flips, [(lobby(), Flip::Left(user("ann")))]);
    assert!(replicas.room(&lobby()).is_none(), "an empty room is forgotten");
}

#[test]
fn a_skipped_version_asks_for_the_snapshot_and_a_stale_one_is_ignored() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let _ = replicas.room_changed(&node("a"), v(1), lobby(), people(&["ann"], 0), now);
    let (_, read) = replicas.room_changed(&node("a"), v(3), lobby(), people(&["ann", "cy"], 0), now);
    assert!(read, "version 2 was missed");
    let (flips, read) = replicas.room_changed(&node("a"), v(2), lobby(), people(&[], 0), now);
    assert!(flips.is_empty() && !read, "older than what was applied");
    let (_, read) = replicas.heartbeat(&node("a"), v(5), now);
    assert!(read, "a heartbeat ahead of the replica");
    let (_, read) = replicas.heartbeat(&node("a"), v(3), now);
    assert!(!read);
}

#[test]
fn a_snapshot_replaces_what_was_known_unless_it_is_older() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let other: RoomName = "other".parse().unwrap();
    let _ = replicas.room_changed(&node("a"), v(1), lobby(), people(&["ann"], 0), now);
    let _ = replicas.room_changed(&node("a"), v(4), other.clone(), people(&["bo"], 0), now);
    assert!(replicas.snapshot(&node("a"), v(3), HashMap::new(), now).is_none(), "older than version 4");
    let snapshot = HashMap::from([(other.clone(), people(&["bo", "cy"], 0))]);
    let flips = replicas.snapshot(&node("a"), v(6), snapshot, now).unwrap();
    assert_eq!(flips, [(lobby(), Flip::Left(user("ann"))), (other.clone(), Flip::Arrived(user("cy")))]);
}

#[test]
fn a_silent_node_or_one_that_says_goodbye_leaves_no_ghosts() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let _ = replicas.room_changed(&node("a"), v(1), lobby(), people(&["ann"], 1), now);
    let _ = replicas.room_changed(&node("b"), v(1), lobby(), people(&["bo"], 0), now);
    let _ = replicas.heartbeat(&node("b"), v(1), now + SILENT_MAX / 2);
    assert_eq!(replicas.expire(now + SILENT_MAX), [(lobby(), Flip::Left(user("ann"))), (lobby(), Flip::Watching(0))]);
    assert_eq!(replicas.forget(&node("b")), [(lobby(), Flip::Left(user("bo")))]);
    assert!(replicas.room(&lobby()).is_none());
}

#[test]
fn a_node_that_said_goodbye_is_not_brought_back_by_a_late_snapshot() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let _ = replicas.room_changed(&node("a"), v(1), lobby(), people(&["ann"], 0), now);
    assert_eq!(replicas.goodbye(&node("a")), [(lobby(), Flip::Left(user("ann")))]);
    let late = HashMap::from([(lobby(), people(&["ann"], 0))]);
    assert_eq!(replicas.snapshot(&node("a"), v(1), late, now), Some(Vec::new()));
    let (flips, read) = replicas.heartbeat(&node("a"), v(1), now);
    assert!(flips.is_empty() && !read);
    assert!(replicas.room(&lobby()).is_none(), "no ghost");
    let next_run = Version { incarnation: 8, count: 1 };
    let (flips, _) = replicas.room_changed(&node("a"), next_run, lobby(), people(&["ann"], 0), now);
    assert_eq!(flips, [(lobby(), Flip::Arrived(user("ann")))], "the node's next run is believed");
}

#[test]
fn a_restarted_node_replaces_its_previous_run() {
    let (mut replicas, now) = (Replicas::default(), Instant::now());
    let _ = replicas.room_changed(&node("a"), v(9), lobby(), people(&["ann"], 0), now);
    let restarted = Version { incarnation: 8, count: 1 };
    let (flips, read) = replicas.room_changed(&node("a"), restarted, lobby(), people(&["bo"], 0), now);
    assert_eq!(flips, [(lobby(), Flip::Left(user("ann"))), (lobby(), Flip::Arrived(user("bo")))]);
    assert!(!read);
}
