//! systemd's readiness and watchdog protocol (`sd_notify(3)`), without libsystemd.
//!
//! Under a `Type=notify` unit systemd puts the path of a datagram socket in `$NOTIFY_SOCKET` and
//! waits for `READY=1` before it calls the service started (and before units ordered after it
//! start). With `WatchdogSec=` it also sets `$WATCHDOG_USEC` and restarts the service when no
//! `WATCHDOG=1` arrives within that time — which turns a hung scheduler into a restart instead
//! of a silently stale knowledge base.
//!
//! Everything here is a no-op when `$NOTIFY_SOCKET` is unset (a terminal, Kubernetes, a
//! container), so the daemon calls these functions unconditionally. Errors are returned, not
//! logged: the caller decides whether a lost notification is worth a warning (it never is worth
//! stopping the daemon, since systemd then times the start out on its own).
//!
//! The protocol is a single datagram of newline-separated `KEY=VALUE` lines sent to a Unix socket;
//! a path starting with `@` names a Linux abstract socket (the `@` stands for the leading NUL
//! byte). That is small enough to implement with `std` alone, which keeps the binary free of a C
//! library and of `unsafe`.

use std::ffi::OsStr;
use std::io;
use std::time::Duration;

/// Environment variable holding the notification socket (set by systemd for `Type=notify`).
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
/// Environment variable holding the watchdog timeout in microseconds (set for `WatchdogSec=`).
const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
/// Environment variable naming the process the watchdog applies to. A child that inherited the
/// environment must not mistake its parent's watchdog for its own.
const WATCHDOG_PID: &str = "WATCHDOG_PID";

/// Tells systemd that start-up is complete: configuration loaded, ledger open, HTTP endpoints
/// listening. Until then `systemctl start` blocks and dependent units wait.
pub fn notify_ready() -> io::Result<()> {
    notify("READY=1")
}

/// Tells systemd a graceful stop has begun (SIGTERM received), so `systemctl status` shows
/// "deactivating" while running work finishes or checkpoints within the grace period.
pub fn notify_stopping() -> io::Result<()> {
    notify("STOPPING=1")
}

/// Tells systemd a reload (SIGHUP) has begun. Send [`notify_ready`] again when it is done, so
/// `systemctl reload` returns only after the new configuration is in effect.
pub fn notify_reloading() -> io::Result<()> {
    notify("RELOADING=1")
}

/// Keeps the watchdog from firing. Call it from the loop that proves the daemon is alive (the
/// scheduler), at least every half of [`watchdog_interval`].
pub fn notify_watchdog() -> io::Result<()> {
    notify("WATCHDOG=1")
}

/// A one-line human-readable status shown by `systemctl status` (for example
/// `"3 tenants, next sync 10:15"`). Newlines are replaced, since they would start a new field.
pub fn notify_status(status: &str) -> io::Result<()> {
    notify(&status_line(status))
}

fn status_line(status: &str) -> String {
    format!("STATUS={}", status.replace(['\n', '\r'], " "))
}

/// The watchdog timeout systemd enforces for this process, or `None` when no watchdog is
/// configured (or it is meant for another process). Ping at half this interval or more often,
/// as `sd_watchdog_enabled(3)` recommends, so one late tick does not cost a restart.
pub fn watchdog_interval() -> Option<Duration> {
    parse_watchdog(
        std::env::var(WATCHDOG_USEC).ok().as_deref(),
        std::env::var(WATCHDOG_PID).ok().as_deref(),
        std::process::id(),
    )
}

/// Sends `state` to `$NOTIFY_SOCKET`; nothing to do when it is unset or empty.
fn notify(state: &str) -> io::Result<()> {
    match std::env::var_os(NOTIFY_SOCKET) {
        Some(socket) if !socket.is_empty() => send(&socket, state),
        _ => Ok(()),
    }
}

/// The watchdog rule of `sd_watchdog_enabled(3)`: the timeout is a positive number of
/// microseconds, and applies only when `WATCHDOG_PID` is unset or names this process.
fn parse_watchdog(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok() != Some(own_pid) {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Sends one notification datagram to `socket`: a filesystem path, or `@name` for an abstract
/// socket.
#[cfg(unix)]
fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let sender = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    let sent = match bytes.strip_prefix(b"@") {
        Some(name) => send_abstract(&sender, name, state.as_bytes())?,
        None => sender.send_to(state.as_bytes(), socket)?,
    };
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!(
                "sd_notify: sent {sent} of {} bytes to {}",
                state.len(),
                display(socket)
            ),
        ));
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(
    sender: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    payload: &[u8],
) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;

    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(payload, &addr)
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn send_abstract(
    _sender: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _payload: &[u8],
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "sd_notify: abstract sockets (NOTIFY_SOCKET=@…) exist only on Linux",
    ))
}

/// systemd exists only on Unix; elsewhere a set `NOTIFY_SOCKET` cannot be honoured.
#[cfg(not(unix))]
fn send(socket: &OsStr, _state: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "sd_notify: NOTIFY_SOCKET={} but this platform has no Unix sockets",
            display(socket)
        ),
    ))
}

fn display(socket: &OsStr) -> String {
    socket.to_string_lossy().into_owned()
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn receive(listener: &UnixDatagram) -> String {
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = listener.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_the_state_as_one_datagram_to_a_socket_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();

        send(path.as_os_str(), "READY=1").unwrap();
        send(path.as_os_str(), "WATCHDOG=1").unwrap();

        assert_eq!(receive(&listener), "READY=1");
        assert_eq!(receive(&listener), "WATCHDOG=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket_when_the_path_starts_with_at() {
        use std::os::linux::net::SocketAddrExt;

        let name = format!("cfc-sd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();

        send(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();

        assert_eq!(receive(&listener), "STOPPING=1");
    }

    #[test]
    fn reports_an_error_when_nobody_listens() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.sock");

        let err = send(missing.as_os_str(), "READY=1").unwrap_err();

        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn does_nothing_without_notify_socket() {
        // The test process is not started by systemd; if a developer runs the tests under a
        // notify unit the variable is set, and the real socket simply receives a harmless status.
        if std::env::var_os(NOTIFY_SOCKET).is_none() {
            notify_ready().unwrap();
            notify_watchdog().unwrap();
            notify_stopping().unwrap();
            notify_reloading().unwrap();
        }
    }

    #[test]
    fn watchdog_interval_comes_from_watchdog_usec() {
        assert_eq!(
            parse_watchdog(Some("30000000"), None, 42),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn watchdog_applies_only_to_the_process_it_names() {
        assert_eq!(
            parse_watchdog(Some("1000"), Some("42"), 42),
            Some(Duration::from_millis(1))
        );
        assert_eq!(parse_watchdog(Some("1000"), Some("43"), 42), None);
        assert_eq!(parse_watchdog(Some("1000"), Some("not-a-pid"), 42), None);
    }

    #[test]
    fn no_watchdog_without_a_positive_timeout() {
        assert_eq!(parse_watchdog(None, None, 42), None);
        assert_eq!(parse_watchdog(Some("0"), None, 42), None);
        assert_eq!(parse_watchdog(Some("soon"), None, 42), None);
        assert_eq!(parse_watchdog(Some("-5"), None, 42), None);
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(status_line("two\nlines\r"), "STATUS=two lines ");
    }
}
