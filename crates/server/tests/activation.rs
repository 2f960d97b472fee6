//! Socket activation (`--web.systemd-socket`): the gateway serves the
//! listening socket systemd passed, ignores `--web.listen-address`, and
//! refuses to start, naming the problem, when no socket was passed.
//! `systemd-socket-activate` (Debian's systemd package) passes the socket
//! as systemd would.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::gateway::{free_port, Gateway};
use crate::wire::Conn;

#[test]
fn serves_the_socket_systemd_passed() {
    let (passed, ignored) = (free_port(), free_port());
    let mut activator = Command::new("systemd-socket-activate")
        .arg(format!("--listen=127.0.0.1:{passed}"))
        .arg(env!("CARGO_BIN_EXE_pushgateway"))
        .arg("--web.systemd-socket")
        .arg(format!("--web.listen-address=127.0.0.1:{ignored}"))
        .arg("--persistence.file=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate runs (Debian's systemd package)");
    // The activator listens first and starts the gateway on the first
    // connection, which the gateway then answers on the passed socket.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(c) = Conn::open_waiting(passed, Duration::from_secs(10)) {
            break c;
        }
        assert!(Instant::now() < deadline, "nothing listens on {passed}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (status, _) = conn
        .request("PUT", "/metrics/job/activated", "# TYPE m gauge\nm 7\n")
        .expect("the gateway answers on the passed socket");
    assert_eq!(status, 200);
    let (status, page) = Conn::open(passed)
        .unwrap()
        .request("GET", "/metrics", "")
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("m{instance=\"\",job=\"activated\"} 7"),
        "{page}"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", ignored)).is_err(),
        "--web.listen-address is not bound under socket activation"
    );
    let _ = activator.kill();
    let _ = activator.wait();
}

#[test]
fn refuses_to_start_without_a_passed_socket() {
    let log = Gateway::refuse(&["--web.systemd-socket", "--persistence.file="]);
    assert!(
        log.contains("no socket activation file descriptors found"),
        "{log}"
    );
}

#[test]
fn ignores_sockets_passed_to_another_process() {
    // LISTEN_PID names the process the sockets are for; a child that
    // inherits the variables must not take them.
    let out = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
        .args(["--web.systemd-socket", "--persistence.file="])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("no socket activation file descriptors found"),
        "{log}"
    );
}
