//! A server binary run as a child process, its stderr and stdout read line
//! by line.
//!
//! Shared by the store's and the proxy's tests of what their binaries print
//! (the proxy's tests include this file by path). The child is stopped when
//! the value is dropped, so a failed assertion leaves no server behind.

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a debug build may take to start or stop.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct ServerProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: mpsc::Receiver<String>,
    /// Every stderr line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl ServerProcess {
    /// Start `command` with stderr and stdout piped (so not terminals).
    pub fn spawn(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server binary");
        let lines = read_lines(child.stderr.take().expect("piped stderr"));
        let stdout = read_lines(child.stdout.take().expect("piped stdout"));
        ServerProcess {
            child,
            lines,
            stdout,
            seen: Vec::new(),
        }
    }

    /// The next line on stdout; panics if none comes in time.
    pub fn stdout_line(&mut self) -> String {
        self.stdout
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("nothing on stdout; stderr said:\n{}", self.seen.join("\n")))
    }

    /// The first line (from now on) that `wanted` accepts; panics with
    /// everything read if none comes in time or the process exits.
    pub fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no expected line on stderr; it said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Ask the process to stop (SIGTERM), wait for it, and return its exit
    /// status with everything it wrote on stderr.
    pub fn terminate(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the server") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at end of file, which follows the exit.
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        (status, std::mem::take(&mut self.seen))
    }
}

impl Drop for ServerProcess {
    /// After a failed assertion: SIGTERM first, so an `--in-memory` server
    /// removes its directory, then SIGKILL if it does not stop.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() >= deadline {
                    let _ = self.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.wait();
    }
}

/// A thread forwarding `stream`'s lines, so the child never blocks on a
/// full pipe.
fn read_lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The address in a JSON log line's `addr` field.
pub fn json_addr(line: &str) -> SocketAddr {
    let event: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    event["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no socket address in `addr`: {line}"))
}
