//! `pushgateway`: the Prometheus Pushgateway, drop-in compatible.
//!
//! Run: `cargo run --release --bin pushgateway` (serves on :9091, in memory).

use std::process::ExitCode;

use server::flags::{self, Parsed};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let config = match flags::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(config)) => *config,
        Ok(Parsed::Help(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Man) => {
            print!("{}", flags::man_page(&program(), server::build::VERSION));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::CompletionScript(shell)) => {
            print!("{}", flags::completion_script(shell, &program()));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Completions(options)) => {
            print!("{options}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            print!("{}", server::build::version_text("pushgateway"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("pushgateway: error: {e}, try --help");
            return ExitCode::from(1);
        }
    };
    server::logging::init(config.log_level, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pushgateway: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: flags::Config) -> ExitCode {
    tracing::info!(version = %server::build::version_info(), "starting pushgateway");
    tracing::info!(build_context = %server::build::build_context(), "Build context");
    server::serve::raise_open_files_limit();
    if !config.local_assets.is_empty() {
        tracing::info!(
            path = %config.local_assets,
            "--web.local-assets is not used: the web UI's assets are built into the binary"
        );
    }
    let persistence = match server::persistence::open(&config) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(err = %e, "could not load persisted metrics");
            return ExitCode::from(1);
        }
    };
    let interval = config.persistence_interval;
    let persistence_file = config.persistence_file.clone();
    let state = match &persistence {
        Some(p) => server::AppState::with_persistence(config, p.clone()),
        None => server::AppState::new(config),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(err = %e, "invalid configuration file");
            return ExitCode::from(1);
        }
    };
    // Groups that expired while the gateway was down are gone before the
    // first request is served.
    server::expiry::expire_now(&state).await;
    let Some(listeners) = listeners(state.config()).await else {
        return ExitCode::from(1);
    };
    let snapshots = persistence
        .clone()
        .map(|p| tokio::spawn(server::persistence::snapshot_periodically(p, interval)));
    let expiry = tokio::spawn(server::expiry::expire_periodically(state.clone()));
    server::serve::serve(state, listeners).await;
    tracing::info!("HTTP server stopped");
    expiry.abort();
    if let Some(task) = snapshots {
        task.abort();
    }
    if let Some(p) = persistence {
        match tokio::task::spawn_blocking(move || p.close()).await {
            Ok(Ok(())) => tracing::info!(file = %persistence_file, "metrics persisted"),
            Ok(Err(e)) => {
                tracing::error!(err = %e, "problem shutting down metric storage");
                return ExitCode::from(1);
            }
            Err(e) => tracing::error!(err = %e, "problem shutting down metric storage"),
        }
    }
    ExitCode::SUCCESS
}

/// The sockets to serve: those systemd passed with `--web.systemd-socket`,
/// else every `--web.listen-address`, bound. `None` (logged) when there
/// are none to serve.
async fn listeners(config: &flags::Config) -> Option<Vec<tokio::net::TcpListener>> {
    let mut listeners = Vec::new();
    if config.systemd_socket {
        tracing::info!("Listening on systemd activated listeners instead of port listeners.");
        match server::serve::systemd_listeners() {
            Ok(passed) => listeners = passed,
            Err(e) => {
                tracing::error!(err = %e, "cannot listen");
                return None;
            }
        }
    } else {
        for address in &config.listen_addresses {
            match server::serve::bind(address).await {
                Ok(l) => listeners.push(l),
                Err(e) => {
                    tracing::error!(err = %e, "cannot listen");
                    return None;
                }
            }
        }
    }
    Some(listeners)
}

/// The name this binary was started as (`prometheus-pushgateway` when
/// packaged), as kingpin names the application.
fn program() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pushgateway".into())
}
