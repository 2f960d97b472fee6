//! `pushgw`: push metrics to a Prometheus Pushgateway from shell scripts,
//! cron jobs and workflows.
//!
//! This binary owns flag parsing and the glue to the `pushgateway_client`
//! library, which does the HTTP, encoding and grouping-key work. `main`
//! parses the command line, runs one function per subcommand, prints an
//! error once and maps it to an exit status (listed in `pushgw --help`).

use std::process::ExitCode;

use clap::Parser as _;

mod args;
mod commands;
mod config;
mod input;
mod run;

use args::{Cli, Command};

/// Bad input from the user: exit status 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    if let Err(e) = help_given_a_value(std::env::args().skip(1)) {
        eprintln!("pushgw: error: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pushgw: error: {e:#}");
            if let Some(hint) = hint(&e, &cli.global.gateway) {
                eprintln!("pushgw: {hint}");
            }
            ExitCode::from(exit_status(&e))
        }
    }
}

/// `--help` (or `-h`) followed by a word that is neither a flag nor a
/// subcommand: the word was meant as a HELP text. Without this check clap
/// prints the help and exits 0, and in cron nothing is pushed, silently.
fn help_given_a_value(args: impl Iterator<Item = String>) -> Result<(), String> {
    let args: Vec<String> = args.collect();
    let subcommands = [
        "push", "gauge", "gauges", "delete", "list", "wipe", "run", "help",
    ];
    for pair in args.windows(2) {
        let (flag, next) = (&pair[0], &pair[1]);
        if flag == "--" {
            return Ok(());
        }
        if (flag == "--help" || flag == "-h")
            && !next.starts_with('-')
            && !subcommands.contains(&next.as_str())
        {
            return Err(format!(
                "--help takes no value (got {next:?}); the metric's HELP text is --help-text {next:?}"
            ));
        }
    }
    Ok(())
}

/// What to do about an error, when there is something to say.
fn hint(e: &anyhow::Error, gateway: &str) -> Option<String> {
    use pushgateway_client::Error;
    let client_error = e.chain().find_map(|c| c.downcast_ref::<Error>())?;
    let message = format!("{e:#}");
    match client_error {
        Error::Connect(_) if message.contains("InvalidContentType") => Some(format!(
            "the gateway at {gateway} does not speak TLS; try http:// instead of https://"
        )),
        Error::Connect(_) => Some(format!(
            "is a Pushgateway listening at {gateway}? Set --gateway or PUSHGATEWAY_URL to its base URL"
        )),
        Error::Timeout(_) => Some(format!(
            "the gateway at {gateway} is slow or unreachable; raise --timeout or add --retries"
        )),
        _ => None,
    }
}

/// `pushgw generate`: the man page or a completion script on stdout.
fn generate(what: args::Generated) -> anyhow::Result<u8> {
    use clap::CommandFactory as _;
    use std::io::Write as _;
    let mut command = Cli::command();
    let mut out = Vec::new();
    match what {
        args::Generated::Man => clap_mangen::Man::new(command).render(&mut out)?,
        args::Generated::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut command, "pushgw", &mut out)
        }
        args::Generated::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut command, "pushgw", &mut out)
        }
        args::Generated::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut command, "pushgw", &mut out)
        }
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&out).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        written => written.map(|()| 0).map_err(Into::into),
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    if let Command::Generate { what } = cli.command {
        return generate(what);
    }
    // --compression is global; the subcommands without a body ignore it.
    let pushes = !matches!(
        cli.command,
        Command::Delete(_) | Command::List(_) | Command::Wipe(_)
    );
    let ttl = match &cli.command {
        Command::Push(a) => a.ttl,
        Command::Gauge(a) => a.ttl,
        Command::Gauges(a) => a.ttl,
        Command::Run(a) => a.ttl,
        _ => None,
    };
    let client = config::client(&cli.global, pushes, ttl)?;
    let verbose = cli.global.verbose;
    match &cli.command {
        Command::Push(args) => commands::push(&client, args, verbose)?,
        Command::Gauge(args) => commands::gauge(&client, args, verbose)?,
        Command::Gauges(args) => commands::gauges(&client, args, verbose)?,
        Command::Delete(args) => commands::delete(&client, args, verbose)?,
        Command::List(args) => commands::list(&client, args)?,
        Command::Wipe(args) => commands::wipe(&client, args, verbose)?,
        Command::Run(args) => return run::run(&client, args, verbose),
        Command::Generate { .. } => {}
    }
    Ok(0)
}

/// The exit status for an error (see `EXIT_CODES` in `args.rs`).
fn exit_status(e: &anyhow::Error) -> u8 {
    use pushgateway_client::Error;
    for cause in e.chain() {
        if cause.is::<Usage>() {
            return 2;
        }
        if let Some(client_error) = cause.downcast_ref::<Error>() {
            return match client_error {
                Error::Status { .. }
                | Error::Redirect { .. }
                | Error::MethodChangingRedirect { .. } => 3,
                Error::Connect(_)
                | Error::Certificate(_)
                | Error::Timeout(_)
                | Error::Transport(_) => 4,
                Error::Io { .. } => 1,
                _ => 2,
            };
        }
    }
    1
}
