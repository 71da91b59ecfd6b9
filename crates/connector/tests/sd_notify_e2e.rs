//! The real binary under a stand-in for systemd: `confluence-connector run` with `NOTIFY_SOCKET`
//! pointing at a datagram socket this test listens on, as a `Type=notify` unit would start it
//! (deploy/systemd/confluence-connector.service). The unit relies on exactly these messages:
//! without READY=1 `systemctl start` times out, without WATCHDOG=1 `WatchdogSec=` kills the
//! daemon, and STOPPING=1 / RELOADING=1 keep `systemctl status` and `reload` truthful.
//!
//! The tenant points at a closed loopback port: its syncs fail, which is irrelevant here —
//! readiness means "configured, ledger open, endpoints listening", not "Confluence is up".
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running daemon and the socket it notifies; killed on drop so a failed assertion leaves
/// no process behind.
struct Daemon {
    child: Child,
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(watchdog: Option<Duration>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket_path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&socket_path).unwrap();
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, daemon_config(dir.path(), closed_loopback_port())).unwrap();

        let mut command = Command::new(env!("CARGO_BIN_EXE_confluence-connector"));
        command
            .args(["run", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            // Nothing from the developer's environment (TENANT_CONFIG_PATH_PATTERN, PORT, …)
            // may leak into the daemon's configuration.
            .env_clear()
            .env("NOTIFY_SOCKET", &socket_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(interval) = watchdog {
            command.env("WATCHDOG_USEC", interval.as_micros().to_string());
        }
        let child = command.spawn().unwrap();
        Self {
            child,
            socket,
            _dir: dir,
        }
    }

    /// Waits for a datagram containing the line `expected`, returning every message seen.
    fn expect(&self, expected: &str, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {expected} within {within:?}; received {seen:?}"
            );
            self.socket.set_read_timeout(Some(left)).unwrap();
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let found = message.lines().any(|line| line == expected);
                    seen.push(message);
                    if found {
                        return seen;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("receiving notifications: {e}"),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A loopback port nobody listens on: connections are refused at once.
fn closed_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn daemon_config(dir: &Path, port: u16) -> String {
    format!(
        r#"listen:
  host: 127.0.0.1
  port: 0
log:
  level: warn
  format: json
state:
  url: sqlite://{state}
shutdown_grace_period_secs: 5
tenants:
  inline:
    probe:
      status: active
      confluence:
        instanceType: data-center
        baseUrl: http://127.0.0.1:{port}
        auth:
          mode: pat
          token: sd-notify-test-token
        apiRateLimitPerMinute: 600
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders:
          x-company-id: company
          x-user-id: user
        ingestionServiceBaseUrl: http://127.0.0.1:{port}
        scopeManagementServiceBaseUrl: http://127.0.0.1:{port}
      ingestion:
        scopeId: scope_root
      processing:
        scanIntervalCron: "0 0 1 1 *"
"#,
        state = dir.join("state").join("ledger.db").display(),
    )
}

#[test]
fn signals_ready_once_started_and_stopping_on_sigterm() {
    let mut daemon = Daemon::start(None);

    daemon.expect("READY=1", Duration::from_secs(60));
    daemon.signal("TERM");
    daemon.expect("STOPPING=1", Duration::from_secs(10));

    assert!(daemon.wait_for_exit(Duration::from_secs(20)).success());
}

#[test]
fn stops_gracefully_on_sigint_too() {
    let mut daemon = Daemon::start(None);

    daemon.expect("READY=1", Duration::from_secs(60));
    daemon.signal("INT");
    daemon.expect("STOPPING=1", Duration::from_secs(10));

    assert_eq!(
        daemon.wait_for_exit(Duration::from_secs(20)).code(),
        Some(0)
    );
}

#[test]
fn pings_the_watchdog_while_running() {
    let daemon = Daemon::start(Some(Duration::from_secs(1)));

    daemon.expect("READY=1", Duration::from_secs(60));
    // Pinging at half the interval means two pings well within two intervals.
    daemon.expect("WATCHDOG=1", Duration::from_secs(2));
    daemon.expect("WATCHDOG=1", Duration::from_secs(2));
}

#[test]
fn reports_reloading_then_ready_again_on_sighup() {
    let daemon = Daemon::start(None);
    daemon.expect("READY=1", Duration::from_secs(60));

    daemon.signal("HUP");

    daemon.expect("RELOADING=1", Duration::from_secs(10));
    daemon.expect("READY=1", Duration::from_secs(10));
}
