//! `wallsocket`: runs the server until SIGINT or SIGTERM (the terminal client and the load
//! generators are `wallsocket-tools`).

use clap::Parser;

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
        Some(Command::Moderator { action: ModeratorAction::Add { name }, database_url }) => {
            add_moderator(&database_url, &name).await
        }
        Some(Command::Moderator { action: ModeratorAction::Remove { name }, database_url }) => {
            remove_moderator(&database_url, &name).await
        }
    }
}

async fn remove_moderator(database_url: &str, name: &app::domain::Username) -> std::process::ExitCode {
    let removed = match wallsocket::store::Store::connect(database_url).await {
        Ok(store) => {
            let removed = wallsocket::moderation::Moderation::remove(&store, name).await;
            store.close().await;
            removed
        }
        Err(e) => Err(e),
    };
    match removed {
        Ok(true) => {
            eprintln!("wallsocket: {name} is no longer a moderator");
            std::process::ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("wallsocket: {name} is not a moderator");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("wallsocket: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints a new moderator's secret on stdout, the only place it is ever shown.
async fn add_moderator(database_url: &str, name: &app::domain::Username) -> std::process::ExitCode {
    let added = match wallsocket::store::Store::connect(database_url).await {
        Ok(store) => {
            let added = wallsocket::moderation::Moderation::add(&store, name).await;
            store.close().await;
            added
        }
        Err(e) => Err(e),
    };
    match added {
        Ok(Some(secret)) => {
            println!("{}", secret.expose());
            eprintln!(
                "wallsocket: {name} is a moderator. The line above is their secret, shown this once: \
                 paste it on /moderate."
            );
            std::process::ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!("wallsocket: {name} is a moderator already (their secret was shown when they were added)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("wallsocket: {e}");
            std::process::ExitCode::FAILURE
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
