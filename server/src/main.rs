//! `wallsocket`: runs the server until SIGINT or SIGTERM (the terminal client and the load
//! generators are `wallsocket-tools`).

use clap::Parser;
use std::process::ExitCode;

// glibc's malloc was the largest item in a profile of server-side rendering (allocation-heavy
// string building); mimalloc halves that cost (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use wallsocket::config::{Cli, Command, Config, ModeratorAction};
use wallsocket::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(config)) => serve(*config).await,
        Some(Command::Moderator { action, database_url }) => moderator(&database_url, &action).await,
    }
}

/// `wallsocket moderator …`: one change to the moderators of the server's database. A new
/// moderator's secret goes to stdout, the only place it is ever shown; the rest to stderr.
async fn moderator(database_url: &str, action: &ModeratorAction) -> ExitCode {
    use wallsocket::moderation::Moderation;
    let store = match wallsocket::store::Store::connect(database_url).await {
        Ok(store) => store,
        Err(e) => return said(Err(e.to_string())),
    };
    let outcome = match action {
        ModeratorAction::Add { name } => Moderation::add(&store, name).await.map(|secret| match secret {
            Some(secret) => {
                println!("{}", secret.expose());
                Ok(format!(
                    "{name} is a moderator. The line above is their secret, shown this once: paste it on /moderate."
                ))
            }
            None => Err(format!("{name} is a moderator already (their secret was shown when they were added)")),
        }),
        ModeratorAction::Remove { name } => Moderation::remove(&store, name).await.map(|removed| match removed {
            true => Ok(format!("{name} is no longer a moderator")),
            false => Err(format!("{name} is not a moderator")),
        }),
    };
    store.close().await;
    said(outcome.unwrap_or_else(|e| Err(e.to_string())))
}

/// Tells the outcome on stderr, and exits with it.
fn said(outcome: Result<String, String>) -> ExitCode {
    match outcome {
        Ok(message) => {
            eprintln!("wallsocket: {message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("wallsocket: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> std::process::ExitCode {
    wallsocket::telemetry::init(&config.log);
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("wallsocket: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let stop = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stop.cancel();
    });
    match app.run_until_stopped().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wallsocket: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return ctrl_c.await.unwrap_or(()),
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
