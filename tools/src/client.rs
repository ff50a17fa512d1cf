//! `wallsocket-tools client`: a room from the terminal, speaking the same protocol as the browser.
//!
//! Prints the room's posts as they come, posts each line typed, reconnects with backoff and
//! resumes from the last seq it printed, re-sending posts that were not acknowledged.
//! Ctrl-D sends what is pending and exits; Ctrl-C exits at once. With `--once` it posts the
//! lines of standard input, prints each acknowledgement, and exits (status 1 if any failed).

use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use futures::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// With `--once`, give up after this many failed connection attempts in a row.
const ONCE_MAX_ATTEMPTS: u32 = 5;
const BASE_BACKOFF_MS: u64 = 250;
const MAX_BACKOFF_MS: u64 = 10_000;
/// How long to wait before re-sending posts the server turned away for now.
const RETRY_REFUSED_AFTER: Duration = Duration::from_secs(1);

#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
    pub url: String,
    /// The room to join.
    #[arg(long, value_parser = RoomName::parse)]
    pub room: RoomName,
    /// Your name in the room.
    #[arg(long, value_parser = Username::parse)]
    pub user: Username,
    /// Post the lines of standard input, print their acknowledgements, then exit.
    #[arg(long)]
    pub once: bool,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What outlives one connection.
struct Session {
    args: ClientArgs,
    lines: mpsc::Receiver<String>,
    stdin_done: bool,
    last_seq: Option<u64>,
    /// Posts sent but not acknowledged, oldest first.
    unacked: Vec<ClientMsg>,
    /// Posts the server turned away for now (rate limit, storage hiccup): sent again at
    /// `retry_at` on the same connection.
    refused: Vec<ClientId>,
    retry_at: Option<tokio::time::Instant>,
    failures: usize,
    /// Who is in the room, to print only real arrivals and departures.
    present: BTreeSet<Username>,
}

enum Outcome {
    Finished,
    Lost(String),
}

pub async fn run(args: ClientArgs) -> ExitCode {
    let (tx, lines) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            if tx.send(line).await.is_err() {
                break;
            }
        }
    });
    let mut session = Session {
        args,
        lines,
        stdin_done: false,
        last_seq: None,
        unacked: Vec::new(),
        refused: Vec::new(),
        retry_at: None,
        failures: 0,
        present: BTreeSet::new(),
    };
    tokio::select! {
        code = session.run() => code,
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

impl Session {
    async fn run(&mut self) -> ExitCode {
        let mut attempt: u32 = 0;
        loop {
            let outcome = match self.connect().await {
                Ok(ws) => self.converse(ws, &mut attempt).await,
                Err(e) => Outcome::Lost(e),
            };
            match outcome {
                Outcome::Finished => return if self.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE },
                Outcome::Lost(why) => {
                    attempt += 1;
                    if self.args.once && attempt >= ONCE_MAX_ATTEMPTS {
                        eprintln!("giving up after {attempt} attempts: {why}");
                        return ExitCode::FAILURE;
                    }
                    let delay = backoff(attempt);
                    eprintln!("* disconnected ({why}); reconnecting in {:.1}s", delay.as_secs_f32());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn connect(&self) -> Result<Socket, String> {
        let request = self.args.url.as_str().into_client_request().map_err(|e| format!("invalid URL: {e}"))?;
        let (ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
        Ok(ws)
    }

    /// One connection: join, re-send what is unacknowledged, then relay both ways.
    async fn converse(&mut self, mut ws: Socket, attempt: &mut u32) -> Outcome {
        let join =
            ClientMsg::Join { room: self.args.room.clone(), username: self.args.user.clone(), since: self.last_seq };
        let mut outbox = vec![join];
        // Everything unacknowledged goes again now, the refused posts included.
        outbox.extend(self.unacked.iter().cloned());
        self.refused.clear();
        self.retry_at = None;
        for msg in outbox {
            if let Err(e) = send(&mut ws, &msg).await {
                return Outcome::Lost(e);
            }
        }
        loop {
            if self.stdin_done && self.unacked.is_empty() {
                let _ = ws.close(None).await;
                return Outcome::Finished;
            }
            tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMsg>(&text) {
                        Ok(msg) => {
                            if matches!(msg, ServerMsg::Joined { .. }) {
                                *attempt = 0;
                            }
                            self.show(msg);
                        }
                        Err(e) => eprintln!("* unreadable message from the server: {e}"),
                    },
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map_or_else(|| "closed".to_owned(), |f| format!("closed with {}: {}", u16::from(f.code), f.reason));
                        return Outcome::Lost(why);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Outcome::Lost(e.to_string()),
                    None => return Outcome::Lost("connection ended".into()),
                },
                _ = tokio::time::sleep_until(self.retry_at.unwrap_or_else(tokio::time::Instant::now)), if self.retry_at.is_some() => {
                    self.retry_at = None;
                    let refused = std::mem::take(&mut self.refused);
                    let again = self.unacked.iter().filter(|m| matches!(m, ClientMsg::Post { client_id, .. } if refused.contains(client_id)));
                    for msg in again.cloned().collect::<Vec<_>>() {
                        if let Err(e) = send(&mut ws, &msg).await {
                            return Outcome::Lost(e);
                        }
                    }
                }
                line = self.lines.recv(), if !self.stdin_done => match line {
                    None => self.stdin_done = true,
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => match PostText::parse(&line) {
                        Err(e) => {
                            eprintln!("! not sent: {e}");
                            self.failures += 1;
                        }
                        Ok(text) => {
                            let msg = ClientMsg::Post { room: self.args.room.clone(), text, client_id: new_client_id() };
                            self.unacked.push(msg.clone());
                            if let Err(e) = send(&mut ws, &msg).await {
                                return Outcome::Lost(e);
                            }
                        }
                    },
                },
            }
        }
    }

    fn show(&mut self, msg: ServerMsg) {
        match msg {
            ServerMsg::Joined { history, present, .. } => {
                if !self.args.once {
                    let names: Vec<&str> = present.iter().map(Username::as_str).collect();
                    eprintln!("* joined #{} — here: {}", self.args.room, names.join(", "));
                }
                self.present = present.into_iter().collect();
                history.into_iter().for_each(|p| self.show(ServerMsg::Post(p)));
            }
            ServerMsg::Post(post) => {
                if self.last_seq.is_some_and(|last| post.seq <= last) {
                    return;
                }
                self.last_seq = Some(post.seq);
                if !self.args.once {
                    println!("[{}] {}: {}", post.seq, post.username, post.text);
                }
            }
            ServerMsg::Ack { client_id, seq, .. } => {
                self.settle(&client_id);
                if self.args.once {
                    println!("posted [{seq}]");
                }
            }
            ServerMsg::Error { code, message, client_id } => {
                eprintln!("! {message} ({})", serde_json::to_string(&code).unwrap_or_default());
                match client_id {
                    // Not stored, but worth another try: the same client id, so never twice.
                    Some(id) if matches!(code, ErrorCode::Internal | ErrorCode::RateLimited) => {
                        self.refused.push(id);
                        self.retry_at.get_or_insert_with(|| tokio::time::Instant::now() + RETRY_REFUSED_AFTER);
                    }
                    Some(id) => {
                        self.settle(&id);
                        self.failures += 1;
                    }
                    None => {}
                }
            }
            ServerMsg::Presence { joined, left, .. } => {
                for username in left {
                    if self.present.remove(&username) && !self.args.once {
                        eprintln!("* {username} left");
                    }
                }
                for username in joined {
                    if self.present.insert(username.clone()) && !self.args.once {
                        eprintln!("* {username} joined");
                    }
                }
            }
            _ => {}
        }
    }

    fn settle(&mut self, done: &ClientId) {
        self.unacked.retain(|m| !matches!(m, ClientMsg::Post { client_id, .. } if client_id == done));
    }
}

async fn send(ws: &mut Socket, msg: &ClientMsg) -> Result<(), String> {
    let json = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    ws.send(Message::text(json)).await.map_err(|e| e.to_string())
}

fn new_client_id() -> ClientId {
    // A v4 UUID in simple form is 32 hex digits: always a valid client id.
    ClientId::parse(&uuid::Uuid::new_v4().simple().to_string()).expect("a UUID is a valid client id")
}

/// Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)].
fn backoff(attempt: u32) -> Duration {
    let cap = (BASE_BACKOFF_MS << attempt.min(16)).min(MAX_BACKOFF_MS);
    let random = (uuid::Uuid::new_v4().as_u128() % u128::from(cap + 1)) as u64;
    Duration::from_millis(random.max(50))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_capped() {
        let delays: Vec<Duration> = (0..200).map(|_| backoff(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(2_000)), "250 ms × 2³ cap");
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 50, "clients spread their reconnects instead of arriving together");
        assert!((0..200).map(|_| backoff(30)).all(|d| d <= Duration::from_millis(MAX_BACKOFF_MS)));
    }
}
