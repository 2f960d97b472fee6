//! `pushgw run`: run a command, then push-add its duration, exit status and
//! the time of its last success or failure.

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
    let started = Instant::now();
    let code = match Command::new(program).args(rest).status() {
        Ok(status) => exit_code(status),
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
