//! The `terril` command: `serve` (the default) and `check`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use terril::data::DataFolder;
use terril::http::catalog_summary;
use terril::pool::CpuPool;
use terril::source::Catalog;
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
    /// Pre-render the tile pyramid into a PMTiles archive.
    Export {
        /// The archive to write (.pmtiles).
        #[arg(long)]
        out: PathBuf,
        /// Folder holding catalog.toml and the GeoJSON files [default: ./geodata, else the
        /// data built into the binary].
        #[arg(long, env = "TERRIL_DATA")]
        data: Option<PathBuf>,
        /// Lowest zoom.
        #[arg(long, default_value_t = 0)]
        minzoom: u8,
        /// Highest zoom.
        #[arg(long, default_value_t = 16)]
        maxzoom: u8,
        /// Comma list of layers (default: all).
        #[arg(long, value_delimiter = ',')]
        layers: Option<Vec<String>>,
        /// west,south,east,north in degrees (default: the layers' bounds).
        #[arg(
            long,
            value_delimiter = ',',
            num_args = 4,
            allow_negative_numbers = true
        )]
        bbox: Option<Vec<f64>>,
    },
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
    /// Reload the data when its files change (SIGHUP always reloads).
    #[arg(long)]
    watch: bool,
    /// CPU jobs (renders, scans, filter compilations) that may wait for a worker; more get
    /// 503 with Retry-After.
    #[arg(long, default_value_t = 1024, env = "TERRIL_MAX_QUEUE")]
    max_queue: usize,
    /// CPU workers for rendering and queries [default: one per core].
    #[arg(long, default_value_t = 0, env = "TERRIL_WORKERS")]
    workers: usize,
    /// Seconds a request may work before it is stopped with a 503.
    #[arg(long, default_value_t = 30, env = "TERRIL_REQUEST_TIMEOUT_S")]
    request_timeout_s: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 10, env = "TERRIL_SHUTDOWN_GRACE_S")]
    shutdown_grace_s: u64,
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
        Some(Command::Export {
            out,
            data,
            minzoom,
            maxzoom,
            layers,
            bbox,
        }) => {
            let options = terril::export::ExportOptions {
                out,
                minzoom,
                maxzoom,
                layers,
                bbox: bbox.map(|b| [b[0], b[1], b[2], b[3]]),
                progress: true,
            };
            export(data.as_deref(), &options)
        }
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

/// The data folder given, else `./geodata`, else the data built into the binary.
fn folder(data: Option<&Path>) -> DataFolder {
    let default = Path::new("geodata");
    match data {
        Some(dir) => DataFolder::Dir(dir.to_path_buf()),
        None if default.join("catalog.toml").is_file() => DataFolder::Dir(default.to_path_buf()),
        None => DataFolder::Embedded,
    }
}

fn check(data: Option<&Path>) -> ExitCode {
    match Catalog::load(&folder(data)) {
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

fn export(data: Option<&Path>, options: &terril::export::ExportOptions) -> ExitCode {
    let catalog = match Catalog::load(&folder(data)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pool = CpuPool::per_core();
    match runtime.block_on(terril::export::export(&catalog, options, &pool)) {
        Ok(stats) => {
            println!(
                "wrote {}: {} tiles with content of {} rendered, {} bytes, in {:.1} s",
                options.out.display(),
                stats.written,
                stats.rendered,
                stats.bytes,
                stats.elapsed.as_secs_f64()
            );
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
    let folder = folder(args.data.as_deref());
    let fingerprint = folder.fingerprint();
    let catalog = match Catalog::load(&folder) {
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
        "loaded {}",
        folder.describe()
    );
    let options = ServerOptions {
        public_url: args.public_url,
        cache_control: args.cache_control,
        cors: !args.no_cors,
        max_queue: args.max_queue,
        workers: args.workers,
        request_timeout: Duration::from_secs(args.request_timeout_s.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_s),
        ..ServerOptions::default()
    };
    let state = AppState::with_folder(
        catalog,
        folder,
        args.cache_mb.saturating_mul(1024 * 1024),
        options,
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.bind).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.bind);
                return ExitCode::FAILURE;
            }
        };
        let addr = listener.local_addr().map_or(args.bind, |a| a);
        if args.watch {
            tokio::spawn(terril::watch(
                state.clone(),
                Duration::from_secs(1),
                fingerprint,
            ));
        }
        #[cfg(unix)]
        tokio::spawn(reload_on_sighup(state.clone()));
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
    });
    // Work still running when the grace period ended was cancelled with its connection: give
    // it a moment to notice, and never wait on it longer.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Reloads the data on every SIGHUP.
#[cfg(unix)]
async fn reload_on_sighup(state: AppState) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the data");
        let _ = state.reload().await;
    }
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
