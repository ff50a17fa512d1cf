//! nginx in front of the test's nodes, with `deploy/nginx.conf` itself: its lines marked
//! `# node`, `# lesson node` and `# listen` are replaced as `scripts/cluster.sh` does. Runs
//! in the foreground in a temp directory, stopped on drop; missing, it fails the test.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    _dir: tempfile::TempDir,
    pub port: u16,
    master: std::process::Child,
}

impl Nginx {
    pub fn start(nodes: &[u16]) -> Self {
        let dir = tempfile::tempdir().expect("a temp directory");
        // As root, nginx's workers run as `nobody` and must reach the temp directory.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        for sub in ["logs", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if let Some(node) = nodes.first() {
            crate::helpers::share_claims(port, *node);
        }
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nginx.conf");
        let config = for_nodes(&std::fs::read_to_string(shipped).expect("deploy/nginx.conf"), nodes, port);
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let server = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .spawn()
            .expect("nginx is not installed: run scripts/install-tools.sh --cluster");
        let mut nginx = Self { _dir: dir, port, master: server };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = nginx.master.try_wait().ok().flatten();
            assert!(exited.is_none() && Instant::now() < deadline, "nginx did not listen on {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }
}

/// SIGTERM, not SIGKILL: a killed master would leave its workers running, holding the port.
impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.master.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.master.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

/// The shipped configuration with the test's nodes and port in its marked lines.
fn for_nodes(shipped: &str, nodes: &[u16], port: u16) -> String {
    let mut out = String::new();
    for line in shipped.lines() {
        let indent = &line[..line.len() - line.trim_start().len()];
        if line.ends_with("# listen") {
            out.push_str(&format!("{indent}listen 127.0.0.1:{port};  # listen\n"));
        } else if line.ends_with("# lesson node") {
            if line.contains(":3000;") {
                for (i, node) in nodes.iter().enumerate() {
                    let backup = if i > 0 { " backup" } else { "" };
                    out.push_str(&format!("{indent}server 127.0.0.1:{node}{backup};  # lesson node\n"));
                }
            }
        } else if line.ends_with("# node") {
            if line.contains(":3000;") {
                for node in nodes {
                    out.push_str(&format!("{indent}server 127.0.0.1:{node};  # node\n"));
                }
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(out.contains(&format!("listen 127.0.0.1:{port};")), "deploy/nginx.conf lost its '# listen' line");
    out
}
