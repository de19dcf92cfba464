//! The `terril` command: `serve` (the default) and `check`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use terril::http::catalog_summary;
use terril::layer::{Catalog, LoadError};
use terril::{AppState, ServerOptions};

/// A geospatial tile and map server: GeoJSON layers as Mapbox Vector Tiles.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve tiles and TileJSON over HTTP (the default).
    Serve(ServeArgs),
    /// Validate the data and print a summary of each layer; exits non-zero on any error.
    Check {
        /// Folder holding catalog.toml and the GeoJSON files [default: ./geodata, else the
        /// data built into the binary].
        #[arg(long, env = "TERRIL_DATA")]
        data: Option<PathBuf>,
    },
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TERRIL_BIND")]
    bind: SocketAddr,
    /// Folder holding catalog.toml and the GeoJSON files [default: ./geodata, else the data
    /// built into the binary].
    #[arg(long, env = "TERRIL_DATA")]
    data: Option<PathBuf>,
    /// Base URL written into TileJSON (default: derived from each request's Host header).
    #[arg(long, env = "TERRIL_PUBLIC_URL")]
    public_url: Option<String>,
    /// Tile cache size in MiB (0 turns the cache off).
    #[arg(long, default_value_t = 256, env = "TERRIL_CACHE_MB")]
    cache_mb: u64,
    /// Cache-Control header for tiles.
    #[arg(
        long,
        default_value = "public, max-age=3600",
        env = "TERRIL_CACHE_CONTROL"
    )]
    cache_control: String,
    /// Do not send CORS headers (they are open by default).
    #[arg(long)]
    no_cors: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "terril=info,tower_http=warn".into()),
        )
        .init();
    match cli.command {
        Some(Command::Check { data }) => check(data.as_deref()),
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

/// Loads the data folder given, else `./geodata`, else the data built into the binary.
fn load(data: Option<&Path>) -> (Result<Catalog, LoadError>, String) {
    let default = Path::new("geodata");
    match data {
        Some(dir) => (Catalog::load_dir(dir), dir.display().to_string()),
        None if default.join("catalog.toml").is_file() => {
            (Catalog::load_dir(default), "geodata".into())
        }
        None => (
            terril::embedded::catalog(),
            "the data built into the binary".into(),
        ),
    }
}

fn check(data: Option<&Path>) -> ExitCode {
    match load(data).0 {
        Ok(catalog) => {
            println!("{}", catalog_summary(&catalog));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let (loaded, source) = load(args.data.as_deref());
    let catalog = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        layers = catalog.layers().len(),
        features = catalog.feature_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded {source}"
    );
    let options = ServerOptions {
        public_url: args.public_url,
        cache_control: args.cache_control,
        cors: !args.no_cors,
    };
    let state = AppState::new(catalog, args.cache_mb * 1024 * 1024, options);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.bind).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.bind);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().map_or(args.bind, |a| a);
        tracing::info!("listening on http://{addr}");
        match terril::serve(listener, state, shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
