//! The hub's membership through [`Member`]: a drop is the disconnect, and the hub alone
//! answers who is in which room.

use super::{Hub, HubError, JoinRequest, Member, NewPost};
use crate::metrics::Metrics;
use crate::queue::{ClientHandle, Queue};
use crate::store::Store;
use app::protocol::ServerMsg;
use std::time::Duration;

async fn hub() -> (Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/hub.db", dir.path().display())).await.unwrap();
    (Hub::spawn(store, Metrics::default()), dir)
}

/// A join as `username`, or watching when it is empty.
fn request(room: &str, username: &str) -> JoinRequest {
    let username = (!username.is_empty()).then(|| username.parse().unwrap());
    JoinRequest { room: room.parse().unwrap(), username, since: None, claim: None, from: None }
}

/// A connection that may be in `max_rooms` rooms, with the queue its frames go to.
fn connect(hub: &Hub, max_rooms: usize) -> (Member, Queue) {
    let (client, queue, _) = ClientHandle::channel(1024, usize::MAX);
    (hub.connect(client, max_rooms), queue)
}

async fn join(member: &Member, room: &str, username: &str) {
    member.join(request(room, username)).await.unwrap().complete().await.unwrap();
}

/// The next `presence` in the queue: who arrived, people, watching.
async fn next_presence(queue: &mut Queue) -> (Vec<app::domain::Username>, u32, u32) {
    loop {
        if let ServerMsg::Presence { joined, members, watching, .. } = next(queue).await {
            return (joined, members, watching);
        }
    }
}

/// The next message in the queue, within a few presence windows.
async fn next(queue: &mut Queue) -> ServerMsg {
    let text = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap();
    serde_json::from_str(text.as_str()).unwrap()
}

#[tokio::test]
async fn dropping_a_member_leaves_every_room_it_was_in_and_is_announced() {
    let (hub, _dir) = hub().await;
    let (ann, _ann_queue) = connect(&hub, 8);
    join(&ann, "red", "ann").await;
    join(&ann, "blue", "ann").await;
    let (ben, mut ben_queue) = connect(&hub, 8);
    join(&ben, "red", "ben").await;
    assert!(matches!(next(&mut ben_queue).await, ServerMsg::Joined { members: 2, .. }));

    drop(ann);

    let left = loop {
        if let ServerMsg::Presence { left, members, .. } = next(&mut ben_queue).await {
            if !left.is_empty() {
                break (left, members);
            }
        }
    };
    assert_eq!(left, (vec!["ann".parse().unwrap()], 1), "ben hears that ann left red");
    let counts = hub.member_counts().await.unwrap();
    assert_eq!(counts.get(&"red".parse().unwrap()), Some(&1));
    assert_eq!(counts.get(&"blue".parse().unwrap()), None, "blue is empty, so gone");
}

#[tokio::test]
async fn only_a_connection_in_the_room_may_post_leave_or_type_there() {
    let (hub, _dir) = hub().await;
    let (ann, _queue) = connect(&hub, 8);
    join(&ann, "red", "ann").await;
    let post = |room: &str| NewPost {
        room: room.parse().unwrap(),
        client_id: "c1".parse().unwrap(),
        text: "hi".parse().unwrap(),
    };

    let refused = ann.post(post("blue")).await.unwrap().into_result().await;
    assert!(matches!(refused, Err(HubError::NotJoined)), "{refused:?}");
    let stored = ann.post(post("red")).await.unwrap().into_result().await.unwrap();
    assert_eq!((stored.seq, stored.username.as_str()), (1, "ann"), "stored under the name it joined with");
    assert!(matches!(ann.typing("blue".parse().unwrap()).await.unwrap().into_result().await, Err(HubError::NotJoined)));
    ann.typing("red".parse().unwrap()).await.unwrap().into_result().await.unwrap();

    ann.leave("red".parse().unwrap()).await.unwrap().into_result().await.unwrap();
    let again = ann.leave("red".parse().unwrap()).await.unwrap().into_result().await;
    assert!(matches!(again, Err(HubError::NotJoined)), "{again:?}");
    let after = ann.post(post("red")).await.unwrap().into_result().await;
    assert!(matches!(after, Err(HubError::NotJoined)), "{after:?}");
}

#[tokio::test]
async fn a_connection_is_held_to_its_rooms_but_a_rename_is_not_another_room() {
    let (hub, _dir) = hub().await;
    let (ann, _queue) = connect(&hub, 2);
    join(&ann, "red", "ann").await;
    join(&ann, "blue", "ann").await;
    let refused = ann.join(request("green", "ann")).await;
    assert!(matches!(refused, Err(HubError::TooManyRooms { max: 2 })));
    join(&ann, "blue", "anne").await;
    ann.leave("red".parse().unwrap()).await.unwrap().into_result().await.unwrap();
    join(&ann, "green", "ann").await;
}

#[tokio::test]
async fn a_watcher_is_counted_not_listed_may_not_post_or_type_and_may_take_a_name() {
    let (hub, _dir) = hub().await;
    let (ann, mut ann_queue) = connect(&hub, 8);
    join(&ann, "red", "ann").await;
    let (eve, mut eve_queue) = connect(&hub, 8);
    join(&eve, "red", "").await;
    let ServerMsg::Joined { present, members, watching, .. } = next(&mut eve_queue).await else { panic!() };
    assert_eq!((present.len(), members, watching), (1, 1, 1), "ann listed, eve counted as watching");
    let presence = next_presence(&mut ann_queue).await;
    assert_eq!(presence, (vec![], 1, 1), "ann hears one more watching, no new name");

    let post = NewPost { room: "red".parse().unwrap(), client_id: "w1".parse().unwrap(), text: "hi".parse().unwrap() };
    let refused = eve.post(post.clone()).await.unwrap().into_result().await;
    assert!(matches!(refused, Err(HubError::NameRequired)), "{refused:?}");
    let typing = eve.typing("red".parse().unwrap()).await.unwrap().into_result().await;
    assert!(matches!(typing, Err(HubError::NameRequired)), "{typing:?}");

    join(&eve, "red", "eve").await;
    let stored = eve.post(post).await.unwrap().into_result().await.unwrap();
    assert_eq!(stored.username.as_str(), "eve", "a watcher that took a name posts under it");
    let presence = next_presence(&mut ann_queue).await;
    assert_eq!(presence, (vec!["eve".parse().unwrap()], 2, 0), "eve listed, nobody watching");
}
