//! The `terril` command: `serve` (the default), `check` and `export`.

/// mimalloc: memory freed after a burst of large answers is reused and returned rather than
/// scattered over per-thread arenas, so the server's memory plateaus under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use terril::data::DataFolder;
use terril::http::catalog_summary;
use terril::pool::CpuPool;
use terril::source::Catalog;
use terril::source::postgis::Database;
use terril::{AppState, ServerOptions};

/// A geospatial tile and map server: GeoJSON files and PostGIS tables as Mapbox Vector Tiles,
/// OGC API – Features and spatial queries.
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
    /// Serve tiles, features and queries over HTTP (the default).
    Serve(ServeArgs),
    /// Pre-render the tile pyramid into a PMTiles or MBTiles archive.
    Export {
        /// The archive to write: *.pmtiles or *.mbtiles.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        /// Lowest zoom.
        #[arg(long, default_value_t = 0)]
        minzoom: u8,
        /// Highest zoom.
        #[arg(long, default_value_t = 16)]
        maxzoom: u8,
        /// Comma list of layers (default: all).
        #[arg(long, value_delimiter = ',')]
        layers: Option<Vec<String>>,
        /// west,south,east,north in degrees, e.g. 2.7,50.35,2.9,50.5 (default: the layers'
        /// bounds).
        #[arg(long, allow_hyphen_values = true)]
        bbox: Option<String>,
    },
    /// Validate the data and print a summary of each layer; exits non-zero on any error.
    Check {
        #[command(flatten)]
        source: SourceArgs,
    },
}

/// Where the layers come from.
#[derive(Args, Clone)]
struct SourceArgs {
    /// Folder holding catalog.toml and the GeoJSON files [default: ./geodata, else the data
    /// built into the binary].
    #[arg(long, env = "TERRIL_DATA")]
    data: Option<PathBuf>,
    /// A PostgreSQL/PostGIS database (libpq URL, e.g. postgres://user:password@host/db): its
    /// geometry tables are served as layers, besides those of the catalog.
    #[arg(long, env = "DATABASE_URL")]
    pg_url: Option<String>,
    /// Connections to the database at most.
    #[arg(long, default_value_t = 16, env = "TERRIL_PG_POOL")]
    pg_pool: usize,
    /// A PMTiles or MBTiles archive to serve as a tileset named after its file's stem: a path,
    /// an http(s):// URL (read with range requests) or s3://bucket/key (endpoint, region and
    /// credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
    /// Repeatable.
    #[arg(long = "archive", value_name = "FILE|URL")]
    archives: Vec<String>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "TERRIL_BIND")]
    bind: SocketAddr,
    #[command(flatten)]
    source: SourceArgs,
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
    /// Seconds a request may work before it is stopped with a 503 (database statements too).
    #[arg(long, default_value_t = 30, env = "TERRIL_REQUEST_TIMEOUT_S")]
    request_timeout_s: u64,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(long, default_value_t = 10, env = "TERRIL_SHUTDOWN_GRACE_S")]
    shutdown_grace_s: u64,
    /// Host names requests may name in `Host` (comma list; `*` for any), besides localhost,
    /// the loopback addresses and the bound address. Ignored with --public-url.
    #[arg(long, env = "TERRIL_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    /// Believe X-Forwarded-Host and X-Forwarded-Proto (behind a reverse proxy that sets them).
    #[arg(long, env = "TERRIL_TRUST_FORWARDED")]
    trust_forwarded: bool,
    /// Client connections open at once; more are refused with 503.
    #[arg(long, default_value_t = 4096, env = "TERRIL_MAX_CONNECTIONS")]
    max_connections: usize,
    /// Client connections open at once from one address (raise it behind a proxy that does not
    /// pool its connections).
    #[arg(long, default_value_t = 256, env = "TERRIL_MAX_CONNECTIONS_PER_IP")]
    max_connections_per_ip: usize,
    /// Seconds a response may wait on a client that does not read it before the connection
    /// is closed.
    #[arg(long, default_value_t = 30, env = "TERRIL_WRITE_TIMEOUT_S")]
    write_timeout_s: u64,
    /// MiB of computed answers (items, queries) held at once for clients still reading them;
    /// an answer that does not fit gets 503 with Retry-After.
    #[arg(long, default_value_t = 512, env = "TERRIL_MAX_BODY_MEMORY_MB")]
    max_body_memory_mb: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "terril=info,tower_http=warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Some(Command::Check { source }) => check(&source).await,
            Some(Command::Export {
                out,
                source,
                minzoom,
                maxzoom,
                layers,
                bbox,
            }) => {
                let bbox = match bbox.as_deref().map(parse_bbox).transpose() {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("error: --bbox {e}");
                        return ExitCode::FAILURE;
                    }
                };
                if terril::export::ArchiveFormat::of(&out).is_none() {
                    eprintln!(
                        "error: --out {}: terril export writes PMTiles or MBTiles archives; name \
                         the file *.pmtiles or *.mbtiles",
                        out.display()
                    );
                    return ExitCode::FAILURE;
                }
                let options = terril::export::ExportOptions {
                    out,
                    minzoom,
                    maxzoom,
                    layers,
                    bbox,
                    progress: true,
                };
                export(&source, &options).await
            }
            Some(Command::Serve(args)) => serve(args).await,
            None => serve(cli.serve).await,
        }
    });
    // Work still running when the grace period ended was cancelled with its connection: give
    // it a moment to notice, and never wait on it longer.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// `west,south,east,north` in degrees.
fn parse_bbox(text: &str) -> Result<[f64; 4], String> {
    let nums: Vec<f64> = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .map_err(|_| format!("{s:?} is not a number"))
        })
        .collect::<Result<_, _>>()?;
    match nums.as_slice() {
        [w, s, e, n] if w.is_finite() && s.is_finite() && e.is_finite() && n.is_finite() => {
            Ok([*w, *s, *e, *n])
        }
        _ => Err("takes 4 numbers: west,south,east,north".into()),
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

/// Connects to the database when one is given.
async fn database(
    source: &SourceArgs,
    statement_timeout: Duration,
) -> Result<Option<Arc<Database>>, String> {
    match &source.pg_url {
        None => Ok(None),
        Some(url) => Database::connect(url, statement_timeout, source.pg_pool)
            .await
            .map(Some),
    }
}

/// Connects and loads, or says why not.
async fn load(
    source: &SourceArgs,
    statement_timeout: Duration,
) -> Result<(DataFolder, Catalog), String> {
    let db = database(source, statement_timeout).await?;
    let folder = folder(source.data.as_deref());
    let catalog = Catalog::load_with_archives(&folder, db.as_ref(), &source.archives)
        .await
        .map_err(|e| e.to_string())?;
    Ok((folder, catalog))
}

async fn check(source: &SourceArgs) -> ExitCode {
    match load(source, Duration::from_secs(60)).await {
        Ok((_, catalog)) => {
            println!("{}", catalog_summary(&catalog));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn export(source: &SourceArgs, options: &terril::export::ExportOptions) -> ExitCode {
    let catalog = match load(source, Duration::from_secs(300)).await {
        Ok((_, c)) => Arc::new(c),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pool = CpuPool::per_core();
    match terril::export::export(&catalog, options, &pool).await {
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

async fn serve(args: ServeArgs) -> ExitCode {
    // Signals first: a SIGHUP while the data loads is kept for afterwards, and SIGTERM or
    // SIGINT while it loads ends the process cleanly.
    #[cfg(unix)]
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let stop_signals = StopSignals::register();
    let stop = tokio::sync::watch::channel(false);
    let stopping = stop.0.clone();
    tokio::spawn(async move {
        stop_signals.recv().await;
        let _ = stopping.send(true);
    });
    let mut stopped = stop.1.clone();

    let started = std::time::Instant::now();
    let request_timeout = Duration::from_secs(args.request_timeout_s.max(1));
    let fingerprint = folder(args.source.data.as_deref()).fingerprint();
    let loaded = tokio::select! {
        loaded = load(&args.source, request_timeout) => loaded,
        _ = stopped.wait_for(|s| *s) => {
            tracing::info!("stopped while loading");
            return ExitCode::SUCCESS;
        }
    };
    let (folder, catalog) = match loaded {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        layers = catalog.layers().len(),
        features = catalog.feature_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded {}{}",
        folder.describe(),
        catalog
            .database()
            .map(|db| format!(" and {}", db.shown()))
            .unwrap_or_default()
    );
    let defaults = ServerOptions::default();
    let mut allowed_hosts = defaults.allowed_hosts.clone();
    if !args.bind.ip().is_unspecified() {
        allowed_hosts.push(args.bind.ip().to_string());
    }
    allowed_hosts.extend(
        args.allowed_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty()),
    );
    let options = ServerOptions {
        public_url: args.public_url,
        cache_control: args.cache_control,
        cors: !args.no_cors,
        max_queue: args.max_queue,
        workers: args.workers,
        request_timeout,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_s),
        allowed_hosts,
        trust_forwarded: args.trust_forwarded,
        max_body_memory: args.max_body_memory_mb.max(1).saturating_mul(1024 * 1024),
        connections: terril::http::conn::ConnectionLimits {
            max_connections: args.max_connections.max(1),
            max_per_ip: args.max_connections_per_ip.max(1),
            write_timeout: Duration::from_secs(args.write_timeout_s.max(1)),
            ..defaults.connections
        },
        ..defaults
    };
    let state = AppState::with_folder(
        catalog,
        folder,
        args.cache_mb.saturating_mul(1024 * 1024),
        options,
    );
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
    if let Some(hangups) = hangups {
        tokio::spawn(reload_on_sighup(state.clone(), hangups));
    }
    tracing::info!("listening on http://{addr}");
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tracing::info!("shutting down: finishing in-flight requests");
    };
    match terril::serve(listener, state, shutdown).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reloads the data on every SIGHUP (including one received while the data first loaded).
#[cfg(unix)]
async fn reload_on_sighup(state: AppState, mut hangups: tokio::signal::unix::Signal) {
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the data");
        let _ = state.reload().await;
    }
}

/// SIGINT and SIGTERM, registered as soon as the server starts.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Completes on the first of them.
    async fn recv(mut self) {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(self.term.take()) => {},
                () = wait(self.int.take()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
