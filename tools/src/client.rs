//! `wallsocket-tools client`: a room from the terminal, a thin driver over the browser's own room
//! client ([`app::room_client`], which holds every rule: resume, outbox, retries, liveness). Prints
//! posts as they come and posts each line typed; Ctrl-D sends what is pending and exits, Ctrl-C
//! exits at once. `--once` posts standard input's lines, prints each `posted [seq]`, and exits
//! (status 1 if any failed). `--watch` follows the room without a name (counted as watching,
//! never listed) and ignores standard input, until Ctrl-C. `--identity PATH` keeps the
//! secret of the name the server issued, so a later run posts under it again; a name someone
//! else holds ends the run with status 1. `--moderator PATH` signs in with the moderator's
//! secret kept in that file; then (or as a post's author) `/delete SEQ` deletes a post and
//! `/block SEQ [MINUTES]` blocks its author (an hour by default).

mod command;

use crate::identity::Identity;
use app::domain::{ClaimSecret, ClientId, PostText, RoomName, Username};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use app::room_client::{Backoff, Event, RoomClient, Step};
use command::{Command, Commands};
use futures::{SinkExt, StreamExt};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// With `--once`, give up after this many failed connection attempts in a row.
const ONCE_MAX_ATTEMPTS: u32 = 5;
/// How often the room client checks the connection.
const TICK: Duration = Duration::from_secs(1);

/// `wallsocket-tools client`'s options.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientArgs {
    /// The server's WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:3000/ws")]
    pub url: String,
    /// The room to join.
    #[arg(long, value_parser = RoomName::parse)]
    pub room: RoomName,
    /// Your name in the room (needed to post).
    #[arg(long, value_parser = Username::parse, required_unless_present = "watch")]
    pub user: Option<Username>,
    /// Post the lines of standard input, print their acknowledgements, then exit.
    #[arg(long)]
    pub once: bool,
    /// Follow the room without a name: print its posts and who is here, post nothing.
    #[arg(long, conflicts_with_all = ["user", "once"])]
    pub watch: bool,
    /// A file keeping the secrets of the names you claimed (created on first use, mode
    /// 0600). Without it a claim lasts as long as this run.
    #[arg(long, value_name = "PATH")]
    pub identity: Option<std::path::PathBuf>,
    /// A file holding a moderator's secret (what `wallsocket moderator add` printed): the
    /// client signs in with it after each join. Never pass the secret itself on the
    /// command line, where other users of the host can read it.
    #[arg(long, value_name = "PATH")]
    pub moderator: Option<std::path::PathBuf>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Terminal {
    args: ClientArgs,
    client: RoomClient,
    backoff: Backoff,
    lines: mpsc::Receiver<String>,
    stdin_done: bool,
    /// Lines that could not be posted.
    failures: usize,
    identity: Option<Identity>,
    /// Someone else holds the name: nothing typed can be posted.
    name_taken: bool,
    /// `/delete` and `/block` lines: sent once the room (and the sign-in) answered.
    commands: Commands,
}

pub async fn run(args: ClientArgs) -> ExitCode {
    let (tx, lines) = mpsc::channel(64);
    // A watcher reads no lines: its channel stays open (and empty) until it exits.
    let (reader, _watching) = if args.watch { (None, Some(tx)) } else { (Some(tx), None) };
    tokio::spawn(async move {
        let Some(tx) = reader else { return };
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            let Ok(()) = tx.send(line).await else { break };
        }
    });
    let identity = args.identity.as_deref().map(Identity::at);
    let claim = match (&identity, &args.user) {
        (Some(identity), Some(user)) => match identity.claim(user) {
            Ok(claim) => claim,
            Err(e) => {
                eprintln!("! {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let moderator = match args.moderator.as_deref().map(read_secret).transpose() {
        Ok(secret) => secret,
        Err(e) => {
            eprintln!("! {e}");
            return ExitCode::FAILURE;
        }
    };
    let client = RoomClient::new(args.room.clone(), args.user.clone(), None, Vec::new())
        .with_claim(claim)
        .with_moderator(moderator);
    let backoff = Backoff::default();
    let (stdin_done, failures, name_taken, commands) = (false, 0, false, Commands::default());
    let mut terminal = Terminal { args, client, backoff, lines, stdin_done, failures, identity, name_taken, commands };
    tokio::select! {
        code = terminal.run() => code,
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}

impl Terminal {
    async fn run(&mut self) -> ExitCode {
        loop {
            let why = match connect(&self.args.url).await {
                Ok(ws) => match self.converse(ws).await {
                    Ok(()) if self.name_taken => return ExitCode::FAILURE,
                    Ok(()) => return if self.failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE },
                    Err(why) => why,
                },
                Err(why) => why,
            };
            self.client.on_close();
            self.commands.connection_lost();
            let delay = self.backoff.failed(random());
            if self.args.once && self.backoff.failures() >= ONCE_MAX_ATTEMPTS {
                eprintln!("giving up after {} attempts: {why}", self.backoff.failures());
                return ExitCode::FAILURE;
            }
            eprintln!("* disconnected ({why}); reconnecting in {:.1}s", delay.as_secs_f32());
            tokio::time::sleep(delay).await;
        }
    }

    /// One connection, until standard input is done and every post stored (`Ok`) or it is lost.
    async fn converse(&mut self, mut ws: Socket) -> Result<(), String> {
        let mut ticks = tokio::time::interval(TICK);
        let step = self.client.on_open(now_ms());
        self.take(step, &mut ws).await?;
        loop {
            let settled = self.client.all_settled() && self.commands.idle();
            if self.name_taken || (self.stdin_done && settled) {
                let _ = ws.close(None).await;
                return Ok(());
            }
            let step = tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMsg>(&text) {
                        Ok(msg) => self.client.on_message(msg, now_ms()),
                        Err(e) => {
                            eprintln!("* unreadable message from the server: {e}");
                            Step::default()
                        }
                    },
                    Some(Ok(Message::Close(frame))) => {
                        return Err(frame.map_or("closed".into(), |f| format!("closed: {f}")));
                    }
                    Some(Ok(_)) => Step::default(),
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("connection ended".into()),
                },
                _ = ticks.tick() => {
                    let mut step = self.client.on_tick(now_ms());
                    step.send.extend(self.flush_commands());
                    step
                }
                line = self.lines.recv(), if !self.stdin_done => self.line(line),
            };
            self.take(step, &mut ws).await?;
        }
    }

    fn line(&mut self, line: Option<String>) -> Step {
        let Some(line) = line else {
            self.stdin_done = true;
            return Step::default();
        };
        match Command::parse(&line) {
            Some(Ok(command)) => {
                self.commands.push(command);
                return Step { send: self.flush_commands(), ..Step::default() };
            }
            Some(Err(e)) => {
                eprintln!("! {e}");
                self.failures += 1;
                return Step::default();
            }
            None => {}
        }
        match PostText::parse(&line) {
            Ok(text) => self.client.post(new_client_id(), text, now_ms()),
            Err(_) if line.trim().is_empty() => Step::default(),
            Err(e) => {
                eprintln!("! not sent: {e}");
                self.failures += 1;
                Step::default()
            }
        }
    }

    /// The commands that may go now.
    fn flush_commands(&mut self) -> Vec<ClientMsg> {
        let client = &mut self.client;
        self.commands.flush(|command| match command {
            Command::Delete(seq) => client.delete(seq, now_ms()).send,
            Command::Block { seq, minutes } => client.block(seq, minutes, now_ms()).send,
        })
    }

    /// Sends what the room client asks and prints what it learnt.
    async fn take(&mut self, step: Step, ws: &mut Socket) -> Result<(), String> {
        let mut sends = step.send;
        for event in step.events {
            if self.commands.on_event(&event, self.args.moderator.is_some()) == Some(false) {
                self.failures += 1;
            }
            self.show(event);
        }
        sends.extend(self.flush_commands());
        for msg in sends {
            send(ws, &msg).await?;
        }
        let lost = step.reconnect.then(|| "the server stopped answering, or refused the join".to_owned());
        lost.map_or(Ok(()), Err)
    }

    fn show(&mut self, event: Event) {
        let chatty = !self.args.once;
        let warn =
            |code: ErrorCode, text: &str| eprintln!("! {text} ({})", serde_json::to_value(code).unwrap_or_default());
        match event {
            Event::Live => self.backoff.reset(),
            Event::Presence { present, watching, arrived, left } if chatty => {
                if arrived.is_empty() && left.is_empty() {
                    let names: Vec<&str> = present.iter().map(Username::as_str).collect();
                    eprintln!("* #{} — here: {} · {watching} watching", self.args.room, names.join(", "));
                }
                left.iter().for_each(|name| eprintln!("* {name} left"));
                arrived.iter().for_each(|name| eprintln!("* {name} joined"));
            }
            Event::Posts(posts) if chatty => {
                posts.iter().for_each(|p| println!("[{}] {}: {}", p.seq, p.username, p.text))
            }
            Event::Stored { seq, .. } if !chatty => println!("posted [{seq}]"),
            Event::Refused { code, message, .. } => {
                warn(code, &message);
                self.failures += 1;
            }
            Event::Notice { code, message } | Event::Delayed { code, message, .. } => warn(code, &message),
            Event::Deleted(seqs) if chatty => seqs.iter().for_each(|seq| println!("[{seq}] (post removed)")),
            Event::HistoryTruncated if chatty => eprintln!("* more was missed than one join replays; catching up"),
            Event::Claimed { username, claim, fingerprint } => match &self.identity {
                Some(identity) => match identity.keep(&username, &claim) {
                    Ok(()) => eprintln!(
                        "* the name {username} (#{fingerprint}) is yours; its secret is kept in your identity file"
                    ),
                    Err(e) => eprintln!("! the name {username} is yours, but its secret could not be kept: {e}"),
                },
                None => {
                    eprintln!("* the name {username} (#{fingerprint}) is yours for this run; --identity PATH keeps it")
                }
            },
            Event::Moderating(name) => eprintln!("* signed in as the moderator {name}"),
            Event::AuthorBlocked { seq, until_ms } => {
                let minutes = ((until_ms - now_ms()).max(0) + 59_999) / 60_000;
                eprintln!("* the author of post [{seq}] may not post for {minutes} min")
            }
            Event::NameTaken(name) => {
                eprintln!("! the name {name} is taken: someone else claimed it; choose another (name_taken)");
                self.name_taken = true;
            }
            _ => {}
        }
    }
}

/// The moderator's secret in the file at `path` (its first line).
fn read_secret(path: &std::path::Path) -> Result<ClaimSecret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    ClaimSecret::parse(text.lines().next().unwrap_or("").trim())
        .map_err(|_| format!("{} holds no moderator's secret (64 hex digits)", path.display()))
}

async fn connect(url: &str) -> Result<Socket, String> {
    let request = url.into_client_request().map_err(|e| format!("invalid URL: {e}"))?;
    Ok(tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?.0)
}

async fn send(ws: &mut Socket, msg: &ClientMsg) -> Result<(), String> {
    let json = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    ws.send(Message::text(json)).await.map_err(|e| e.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Uniform in [0, 1), from a v4 UUID's lowest 53 bits (all random; its fixed bits are higher).
fn random() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % (1 << 53)) as f64 / (1u64 << 53) as f64
}

/// A v4 UUID in simple form is 32 hex digits: always a valid client id.
fn new_client_id() -> ClientId {
    ClientId::parse(&uuid::Uuid::new_v4().simple().to_string()).expect("a UUID is a valid client id")
}
