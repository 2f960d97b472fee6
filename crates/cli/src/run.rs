//! `pushgw run`: run a command, then push-add its duration, exit status and
//! the time of its last success or failure; and, on Unix, the signal
//! handling that keeps pushgw alive until the outcome is pushed.

use std::fmt::Write as _;
use std::process::{Command, ExitStatus};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use pushgateway_client::{BlockingClient, Payload};

use crate::args::RunArgs;
use crate::config::grouping_key;

/// Runs the command and pushes; returns the exit status for pushgw.
pub(crate) fn run(client: &BlockingClient, args: &RunArgs, verbose: bool) -> anyhow::Result<u8> {
    // Bad grouping labels (like bad options) are found before the command runs.
    let key = grouping_key(&args.group)?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| crate::Usage("no command to run".into()))?;
    // Caught before the command starts, so that no SIGTERM or Ctrl-C can
    // kill pushgw between its start and the push; held (to the end of this
    // function) until the push is done.
    let mut guard = signals::Guard::catch();
    let started = Instant::now();
    let code = match Command::new(program).args(rest).spawn() {
        Ok(mut child) => wait_result(guard.wait(&mut child), program),
        Err(e) => {
            eprintln!("pushgw: cannot run {}: {e}", program.to_string_lossy());
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            }
        }
    };
    let duration = started.elapsed().as_secs_f64();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let payload = Payload::text(metrics(duration, code, now));
    match client.push_add(&key, &payload) {
        Ok(()) => {
            if verbose {
                eprintln!("pushgw: pushed the run's outcome (exit status {code}) to {key}");
            }
            Ok(code)
        }
        Err(e) if args.fail_on_push_error && code == 0 => {
            Err(anyhow::Error::from(e).context(format!("pushing the run's outcome to {key}")))
        }
        Err(e) => {
            eprintln!("pushgw: warning: pushing the run's outcome to {key} failed: {e:#}");
            Ok(code)
        }
    }
}

/// The exit code of a waited-for command (1 if waiting failed).
fn wait_result(status: std::io::Result<ExitStatus>, program: &std::ffi::OsStr) -> u8 {
    match status {
        Ok(status) => exit_code(status),
        Err(e) => {
            eprintln!("pushgw: waiting for {}: {e}", program.to_string_lossy());
            1
        }
    }
}

/// Unix signals while the command runs.
///
/// pushgw must outlive the command to push its outcome, so it never dies of
/// SIGINT, SIGQUIT, SIGTERM or SIGHUP from the moment before the command
/// starts until the push is done (the push is bounded by `--timeout`).
/// SIGTERM and SIGHUP (from `kill`, `timeout`, systemd) are forwarded to
/// the command. SIGINT and SIGQUIT are not: the terminal sends Ctrl-C and
/// Ctrl-\ to the whole foreground process group, the command included, and
/// a second copy could cut its clean-up short.
///
/// A signal that was ignored when pushgw started (`nohup`, a background job
/// of a script) is left ignored, so the command inherits that as it would
/// without pushgw (known on Linux, from `/proc/self/status`). The signals
/// pushgw catches are back to their default handling in the command, as
/// `exec` resets caught signals.
#[cfg(unix)]
mod signals {
    use std::process::{Child, ExitStatus};
    use std::sync::{Arc, Mutex};

    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use signal_hook::iterator::{Handle, Signals};

    /// Catches the signals from [`Guard::catch`] until dropped; forwards
    /// SIGTERM and SIGHUP to the command while [`Guard::wait`] waits for it.
    pub(super) struct Guard {
        /// Caught signals not yet handed to the forwarding thread.
        caught: Option<Signals>,
        /// Closes the forwarding thread's signal iterator.
        handle: Option<Handle>,
    }

    impl Guard {
        /// Starts catching the signals that are not ignored (they queue up
        /// until [`Guard::wait`]). If that fails, pushgw runs with the
        /// default handling.
        pub(super) fn catch() -> Guard {
            let ignored = ignored_signals();
            let wanted = [SIGINT, SIGQUIT, SIGTERM, SIGHUP]
                .into_iter()
                .filter(|&signal| ignored & (1 << (signal - 1)) == 0);
            let caught = Signals::new(wanted)
                .map_err(|e| eprintln!("pushgw: warning: cannot catch signals: {e}"))
                .ok();
            Guard {
                caught,
                handle: None,
            }
        }

        /// Waits for `child` to exit, forwarding SIGTERM and SIGHUP to it
        /// (signals caught since [`Guard::catch`] first). Forwarding stops
        /// before the exited child is reaped, while its process ID cannot
        /// have been reused.
        pub(super) fn wait(&mut self, child: &mut Child) -> std::io::Result<ExitStatus> {
            let Some(mut signals) = self.caught.take() else {
                return child.wait();
            };
            let pid = Pid::from_child(child);
            let target = Arc::new(Mutex::new(Some(pid)));
            self.handle = Some(signals.handle());
            let forwarded = target.clone();
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    let signal = match signal {
                        SIGTERM => Signal::TERM,
                        SIGHUP => Signal::HUP,
                        _ => continue,
                    };
                    if let Ok(target) = forwarded.lock() {
                        if let Some(pid) = *target {
                            let _ = rustix::process::kill_process(pid, signal);
                        }
                    }
                }
            });
            // Until it has exited (or waiting fails, which child.wait()
            // below then reports); it stays unreaped.
            let exited = || {
                rustix::process::waitid(
                    WaitId::Pid(pid),
                    WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
                )
            };
            while let Err(rustix::io::Errno::INTR) = exited() {}
            if let Ok(mut target) = target.lock() {
                *target = None;
            }
            child.wait()
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(handle) = &self.handle {
                handle.close();
            }
        }
    }

    /// The set of ignored signals (bit N-1 for signal N), from the `SigIgn`
    /// line of `/proc/self/status`; none where that cannot be read.
    fn ignored_signals() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("SigIgn:"))
                    .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            })
            .unwrap_or(0)
    }
}

/// Signals are left alone where there are no Unix signals.
#[cfg(not(unix))]
mod signals {
    use std::process::{Child, ExitStatus};

    /// Does nothing.
    pub(super) struct Guard;

    impl Guard {
        pub(super) fn catch() -> Guard {
            Guard
        }

        pub(super) fn wait(&mut self, child: &mut Child) -> std::io::Result<ExitStatus> {
            child.wait()
        }
    }
}

/// The status a shell would report: the exit code, or 128 + the signal.
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return u8::try_from((128 + signal) & 0xff).unwrap_or(1);
        }
    }
    1
}

/// The pushed text.
fn metrics(duration: f64, code: u8, now: f64) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: f64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        );
    };
    gauge(
        "pushgw_run_duration_seconds",
        "How long the last run of the command took.",
        duration,
    );
    gauge(
        "pushgw_run_exit_code",
        "Exit status of the last run of the command (128+N: killed by signal N).",
        f64::from(code),
    );
    if code == 0 {
        gauge(
            "pushgw_run_last_success_timestamp_seconds",
            "When the command last succeeded, in Unix seconds.",
            now,
        );
    } else {
        gauge(
            "pushgw_run_last_failure_timestamp_seconds",
            "When the command last failed, in Unix seconds.",
            now,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_pushes_the_success_time() {
        let text = metrics(1.5, 0, 1_700_000_000.25);
        assert!(
            text.contains("\npushgw_run_duration_seconds 1.5\n"),
            "{text}"
        );
        assert!(text.contains("\npushgw_run_exit_code 0\n"), "{text}");
        assert!(
            text.contains("\npushgw_run_last_success_timestamp_seconds 1700000000.25\n"),
            "{text}"
        );
        assert!(!text.contains("failure"), "{text}");
    }

    #[test]
    fn failure_pushes_the_failure_time() {
        let text = metrics(0.0, 3, 1.0);
        assert!(text.contains("\npushgw_run_exit_code 3\n"), "{text}");
        assert!(
            text.contains("\npushgw_run_last_failure_timestamp_seconds 1\n"),
            "{text}"
        );
        assert!(!text.contains("success"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn signals_are_128_plus_the_signal() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
    }
}
