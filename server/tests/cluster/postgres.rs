//! A throwaway PostgreSQL server: initialised in a temp directory, listening on a free
//! 127.0.0.1 port, stopped (immediately) and deleted on drop. Uses Debian's binaries
//! (`scripts/install-tools.sh --cluster`); a missing one fails the test, never skips it.
//! `initdb` refuses to run as root, so as root both it and the server run as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    pub fn start() -> Self {
        let bin = binaries();
        let dir = tempfile::tempdir().expect("a temp directory");
        let data = dir.path().join("data");
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()));
        }
        run(as_owner(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "wallsocket", "--no-sync", "-E", "UTF8", "-D"])
            .arg(&data));
        let postgres = Self { dir, bin, port: free_port() };
        postgres.start_again();
        postgres
    }

    /// Starts the server (again) on its port, and waits until it takes connections.
    pub fn start_again(&self) {
        let settings = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log");
        run(as_owner(&self.bin.join("pg_ctl"))
            .args(["-w", "-t", "30", "-o", &settings, "-l"])
            .arg(&log)
            .arg("-D")
            .arg(self.data())
            .arg("start"));
    }

    /// Stops the server (fast: open connections are cut), as a restart or a crash would.
    pub fn stop(&self) {
        run(as_owner(&self.bin.join("pg_ctl")).args(["-w", "-m", "fast", "-D"]).arg(self.data()).arg("stop"));
    }

    /// A URL of a fresh database on this server, made for one test.
    pub fn database(&self, name: &str) -> String {
        run(as_owner(&self.bin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "wallsocket",
            name,
        ]));
        format!("postgres://wallsocket@127.0.0.1:{}/{name}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ =
            as_owner(&self.bin.join("pg_ctl")).args(["-m", "immediate", "-D"]).arg(self.data()).arg("stop").output();
    }
}

/// The newest PostgreSQL's binaries Debian installed.
fn binaries() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run scripts/install-tools.sh --cluster")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| bin.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    found.pop().expect("no initdb under /usr/lib/postgresql: run scripts/install-tools.sh --cluster")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `program`, run as the `postgres` user when we are root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
