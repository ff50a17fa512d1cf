//! Starts the real server on port 0 with its own temporary database, and speaks to it.

use app::domain::{ClaimSecret, Username};
use app::protocol::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use wallsocket::config::Config;
use wallsocket::startup::Application;

/// How long a test waits for a message it expects.
const RECV_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestApp {
    pub port: u16,
    pub dir: Arc<TempDir>,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

/// A server with a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(tempfile::tempdir().expect("temp dir")), &[]).await
}

/// A server on the database in `dir` (unless the flags name another), with extra
/// command-line flags.
pub async fn spawn_app_with(dir: Arc<TempDir>, flags: &[&str]) -> TestApp {
    let db = format!("sqlite://{}/wall.db", dir.path().display());
    let mut args = vec!["wallsocket", "--log", "warn", "--shutdown-grace-ms", "2000"];
    if !flags.contains(&"--database-url") {
        args.extend(["--database-url", &db]);
    }
    if !flags.contains(&"--listen") {
        args.extend(["--listen", "127.0.0.1:0"]);
    }
    // Every test client comes from 127.0.0.1: only the test of this limit keeps it low.
    if !flags.contains(&"--ip-connect-rate") {
        args.extend(["--ip-connect-rate", "100000"]);
    }
    args.extend(generous_post_allowance(flags));
    args.extend_from_slice(flags);
    let config = Config::try_parse_from(args).expect("valid test flags");
    wallsocket::telemetry::init(&config.log);
    let app = Application::build(config).await.expect("server starts");
    let port = app.port();
    let stop = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    TestApp { port, dir, stop, task }
}

use clap::Parser as _;

impl TestApp {
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A native client (no Origin header), past the `hello` message.
    pub async fn client(&self) -> Client {
        let mut client = self.connect(None).await.expect("upgrade succeeds");
        let hello = client.recv().await;
        assert!(matches!(hello, ServerMsg::Hello { protocol: app::protocol::PROTOCOL_VERSION, .. }), "{hello:?}");
        client
    }

    pub async fn connect(&self, origin: Option<&str>) -> Result<Client, tungstenite::Error> {
        let mut request = self.ws_url().into_client_request()?;
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse().expect("header value"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Client::from_stream(ws))
    }

    /// Signals shutdown and waits until the server has stopped.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("server task").expect("server stops cleanly");
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// The claims the tests' clients were issued, by server port and lowercased name: a test's
/// second connection under a name presents its secret, as a browser's second tab does.
static CLAIMS: LazyLock<Mutex<HashMap<(u16, String), ClaimSecret>>> = LazyLock::new(Mutex::default);

/// Ports whose server shares another port's claims (nodes of one database, their proxy).
static SAME_CLAIMS: LazyLock<Mutex<HashMap<u16, u16>>> = LazyLock::new(Mutex::default);

/// The server on `port` shares the claims of the one on `as_port` (one database).
#[allow(dead_code)] // The cluster tests' nodes share one database; the API tests' servers do not.
pub fn share_claims(port: u16, as_port: u16) {
    let mut same = SAME_CLAIMS.lock().unwrap();
    let root = *same.get(&as_port).unwrap_or(&as_port);
    if port != root {
        same.insert(port, root);
    }
}

fn claim_key(port: u16, name: &Username) -> (u16, String) {
    let port = *SAME_CLAIMS.lock().unwrap().get(&port).unwrap_or(&port);
    (port, name.as_str().to_lowercase())
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The server's port: whose claims this client presents.
    port: u16,
    /// Every `claimed` this client received (they are stepped over by `recv` and friends).
    pub claimed: Vec<ServerMsg>,
}

impl Client {
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let port = match ws.get_ref() {
            MaybeTlsStream::Plain(tcp) => tcp.peer_addr().map_or(0, |a| a.port()),
            _ => 0,
        };
        Self { ws, port, claimed: Vec::new() }
    }

    /// Sends `msg`; a `join` under a name this server issued to a test's client before, and
    /// carrying no claim, carries its secret.
    pub async fn send(&mut self, msg: &ClientMsg) {
        let mut msg = msg.clone();
        if let ClientMsg::Join { username: Some(name), claim: claim @ None, .. } = &mut msg {
            *claim = CLAIMS.lock().unwrap().get(&claim_key(self.port, name)).cloned();
        }
        self.send_unclaimed(&msg).await;
    }

    /// Sends `msg` as it is.
    pub async fn send_unclaimed(&mut self, msg: &ClientMsg) {
        self.send_text(&serde_json::to_string(msg).expect("encodes")).await;
    }

    /// Keeps an issued claim (true), or says the message is something else (false).
    fn took_claim(&mut self, text: &str) -> bool {
        let Ok(msg @ ServerMsg::Claimed { .. }) = serde_json::from_str::<ServerMsg>(text) else { return false };
        if let ServerMsg::Claimed { username, claim, .. } = &msg {
            CLAIMS.lock().unwrap().insert(claim_key(self.port, username), claim.clone());
        }
        self.claimed.push(msg);
        true
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_raw(&mut self, msg: Message) -> Result<(), tungstenite::Error> {
        self.ws.send(msg).await
    }

    /// The next server message; fails the test on timeout, close or a non-JSON frame.
    pub async fn recv(&mut self) -> ServerMsg {
        self.recv_within(RECV_TIMEOUT).await
    }

    /// The next server message within `within` (for what takes longer than a message
    /// usually does, e.g. a dead node being noticed); fails the test otherwise.
    pub async fn recv_within(&mut self, within: Duration) -> ServerMsg {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await;
            match frame.unwrap_or_else(|_| panic!("no message within {within:?}")) {
                Some(Ok(Message::Text(text))) if self.took_claim(&text) => continue,
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("server sends valid ServerMsg")
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// The next text frame, undecoded (for clients that only need its type); fails the test
    /// on timeout or close.
    pub async fn recv_text(&mut self) -> tungstenite::Utf8Bytes {
        loop {
            let frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await.expect("a message within 5 s");
            match frame {
                Some(Ok(Message::Text(text))) if self.took_claim(&text) => continue,
                Some(Ok(Message::Text(text))) => return text,
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// The next message (`Ok`), or the close (`Err` with its code); `None` if the connection
    /// ended without a close frame.
    pub async fn next_frame(&mut self) -> Option<Result<Option<ServerMsg>, Option<u16>>> {
        let mut frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await.expect("a frame within 5 s");
        while let Some(Ok(Message::Text(text))) = &frame {
            if !self.took_claim(text) {
                break;
            }
            frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await.expect("a frame within 5 s");
        }
        match frame? {
            Ok(Message::Text(text)) => Some(Ok(serde_json::from_str(&text).ok())),
            Ok(Message::Close(frame)) => Some(Err(frame.map(|f| u16::from(f.code)))),
            Ok(_) => Some(Ok(None)),
            Err(_) => None,
        }
    }

    /// The next frame as the socket gives it (pings and pongs included); fails the test on
    /// timeout or a broken connection.
    pub async fn next_message(&mut self) -> Message {
        let frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await.expect("a frame within 5 s");
        frame.expect("the connection is open").expect("a whole frame")
    }

    /// Waits for the server's close frame and returns its code.
    pub async fn recv_close(&mut self) -> Option<u16> {
        loop {
            let frame = tokio::time::timeout(RECV_TIMEOUT, self.ws.next()).await.expect("close within 5 s");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Asserts no message arrives for `ms` milliseconds (pings are answered and skipped).
    pub async fn expect_silence(&mut self, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(frame) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if !matches!(frame, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                panic!("expected silence, got {frame:?}");
            }
        }
    }

    /// Joins `room` as `user` and returns the `joined` reply's history and member count.
    pub async fn join(&mut self, room: &str, user: &str, since: Option<u64>) -> (Vec<app::protocol::Post>, u32) {
        self.send(&ClientMsg::Join {
            room: room.parse().unwrap(),
            username: Some(app::domain::Username::parse(user).unwrap()),
            since,
            claim: None,
            from: None,
        })
        .await;
        loop {
            match self.recv().await {
                ServerMsg::Joined { history, members, truncated: false, .. } => return (history, members),
                other if is_presence(&other) => continue,
                other => panic!("expected joined, got {other:?}"),
            }
        }
    }

    /// Posts and returns the acknowledged seq, skipping the broadcast of the post itself.
    pub async fn post(&mut self, room: &str, text: &str, client_id: &str) -> u64 {
        self.send(&post_msg(room, text, client_id)).await;
        loop {
            match self.recv().await {
                ServerMsg::Ack { seq, client_id: id, .. } if id.as_str() == client_id => return seq,
                ServerMsg::Post(_) => continue,
                other if is_presence(&other) => continue,
                other => panic!("expected ack, got {other:?}"),
            }
        }
    }

    /// The next `post` broadcast, skipping member-count updates.
    pub async fn next_post(&mut self) -> app::protocol::Post {
        loop {
            match self.recv().await {
                ServerMsg::Post(post) => return post,
                other if is_presence(&other) => continue,
                other => panic!("expected a post, got {other:?}"),
            }
        }
    }
}

/// Arrivals, departures, typing, and a name's first use (`claimed`): what tests about
/// posts step over.
pub fn is_presence(msg: &ServerMsg) -> bool {
    matches!(msg, ServerMsg::Presence { .. } | ServerMsg::Typing { .. } | ServerMsg::Claimed { .. })
}

pub fn post_msg(room: &str, text: &str, client_id: &str) -> ClientMsg {
    ClientMsg::Post {
        room: room.parse().unwrap(),
        text: app::domain::PostText::parse(text).unwrap(),
        client_id: app::domain::ClientId::parse(client_id).unwrap(),
    }
}

/// The real `wallsocket` binary, started with `args` plus `--listen 127.0.0.1:0`.
pub struct Binary {
    pub child: KillOnDrop,
    pub port: u16,
    /// Collects the log (stderr) until the process exits; join it to read the log.
    pub log: std::thread::JoinHandle<String>,
}

/// Tests post hundreds of posts under one name: the per-name allowance is lifted unless the
/// test sets it (its own test, and the paced terminal client's, do).
fn generous_post_allowance(flags: &[&str]) -> Vec<&'static str> {
    if flags.iter().any(|f| f.starts_with("--posts-per-claim")) {
        return Vec::new();
    }
    vec!["--posts-per-claim-per-min", "1000000", "--posts-per-claim-burst", "1000000"]
}

/// Starts the binary and waits until it listens: it logs `addr=…` at level info, so `args`
/// must keep info logs on.
pub fn spawn_binary(args: &[&str]) -> Binary {
    use std::io::{BufRead, BufReader};
    // Only the server's own tests have the binary (the tools' tests share these helpers).
    let Some(exe) = option_env!("CARGO_BIN_EXE_wallsocket") else {
        panic!("spawn_binary is for the server's own tests, which have its binary")
    };
    let mut child = std::process::Command::new(exe)
        .args(["--listen", "127.0.0.1:0"])
        .args(generous_post_allowance(args))
        .args(args)
        .env("NO_COLOR", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    // One thread reads the whole log: it reports the port as soon as it appears, so a
    // server that never says it listens fails the test instead of hanging it.
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(rest) = line.split("addr=127.0.0.1:").nth(1) {
                let _ = port_tx.send(rest.trim().parse::<u16>().ok());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    let port = port_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .ok()
        .flatten()
        .expect("the server said it listens within 30 s (keep info logs on)");
    Binary { child: KillOnDrop(child), port, log }
}

/// A child process that is killed when the test that started it ends, even by a panic, so a
/// failing test leaves no server behind.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
