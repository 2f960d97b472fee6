//! Running the built `pushgw` binary with a clean environment.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::util::Gateway;

/// What a `pushgw` run did.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// A `pushgw` invocation being put together.
pub(crate) struct Pushgw {
    command: Command,
    stdin: Option<String>,
}

/// `pushgw ARGS`, with no `PUSHGATEWAY_*` variable from the test's own
/// environment.
pub(crate) fn pushgw(args: &[&str]) -> Pushgw {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pushgw"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PUSHGATEWAY_") {
            command.env_remove(name);
        }
    }
    command.args(args);
    Pushgw {
        command,
        stdin: None,
    }
}

impl Pushgw {
    /// Points it at `gw` through `PUSHGATEWAY_URL`.
    pub(crate) fn at(self, gw: &Gateway) -> Pushgw {
        self.env("PUSHGATEWAY_URL", gw.url())
    }

    /// Sets an environment variable.
    pub(crate) fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Pushgw {
        self.command.env(name, value);
        self
    }

    /// Feeds `text` to standard input.
    pub(crate) fn stdin(mut self, text: &str) -> Pushgw {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Starts it with standard output and error piped, and returns the
    /// running process.
    pub(crate) fn spawn(mut self) -> std::process::Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.command.spawn().expect("start pushgw")
    }

    /// Puts it in a process group of its own, as a shell does with a job
    /// (so that a signal to the group does not reach the tests).
    pub(crate) fn own_process_group(mut self) -> Pushgw {
        use std::os::unix::process::CommandExt as _;
        self.command.process_group(0);
        self
    }

    /// Runs it to the end.
    pub(crate) fn output(mut self) -> Output {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("start pushgw");
        if let Some(text) = &self.stdin {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait for pushgw");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs it and expects exit status 0.
    pub(crate) fn success(self) -> Output {
        let out = self.output();
        assert_eq!(out.code, 0, "pushgw failed: {out:#?}");
        out
    }

    /// Runs it and expects exit status `code`.
    pub(crate) fn fails_with(self, code: i32) -> Output {
        let out = self.output();
        assert_eq!(out.code, code, "unexpected exit status: {out:#?}");
        assert!(out.stderr.starts_with("pushgw: "), "{out:#?}");
        out
    }
}
