//! A throwaway Redis: no persistence, listening on a free 127.0.0.1 port, killed on drop.
//! It can be killed and started again on the same port, as a restarted Redis would be. Uses
//! Debian's `redis-server` (`scripts/install-tools.sh --cluster`); missing, it fails the test.

use crate::helpers::KillOnDrop;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<KillOnDrop>,
}

impl Redis {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temp directory");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = Self { dir, port, server: None };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (`kill -9`): subscribers lose their connection.
    pub fn kill(&mut self) {
        self.server = None;
    }

    /// Starts the server (again) on its port, and waits until it answers `PING`.
    pub fn restart(&mut self) {
        let server = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is not installed: run scripts/install-tools.sh --cluster");
        self.server = Some(KillOnDrop(server));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server did not answer PING on port {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
    }
}
