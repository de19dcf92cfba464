//! The accept loop: HTTP/1.1 connections served by hyper with the router, graceful shutdown
//! with a deadline, and the data folder watched for changes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::conn::{Gate, Guarded, Refused, refusal};
use super::{AppState, router};

/// Longest time a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `state` on a bound listener until `shutdown` completes; then stops accepting
/// connections and lets in-flight requests finish, for at most the state's `shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.options().shutdown_grace;
    let limits = state.options().connections;
    let cors = state.options().cors;
    state.warm_assets();
    let gate = Gate::new(limits);
    let metrics_state = state.clone();
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Some(HEADER_READ_TIMEOUT))
        .max_buf_size((limits.max_head_bytes + 16 * 1024).max(8192))
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors (or another transient fault): wait a little
                        // rather than spin, and keep serving the connections already open.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let ticket = match gate.admit(peer.ip()) {
                    Ok(ticket) => ticket,
                    Err(why) => {
                        // Refused at the door, cheaply: one non-blocking write, then close.
                        let (reason, description) = match why {
                            Refused::Full => ("full", "the server holds as many connections as it takes; try again"),
                            Refused::TooManyFromAddress => (
                                "per_address",
                                "this address holds as many connections as one client may; reuse them",
                            ),
                        };
                        metrics_state.metrics().refused(reason);
                        let _ = stream.try_write(&refusal(
                            503,
                            "Service Unavailable",
                            "too_many_connections",
                            description,
                            cors,
                        ));
                        continue;
                    }
                };
                metrics_state.metrics().connections(gate.open());
                let _ = stream.set_nodelay(true);
                let io = Guarded::new(stream, limits, cors, Some(ticket));
                let service = TowerToHyperService::new(app.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(io), service));
                let gate = Arc::clone(&gate);
                let state = metrics_state.clone();
                tokio::spawn(async move {
                    let _ = connection.await;
                    // The ticket went with the connection.
                    state.metrics().connections(gate.open());
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(
                "shutdown deadline of {} s reached: closing the remaining connections",
                grace.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Reloads the data whenever its files change, checking every `every`. The new data is built
/// off to the side and swapped in only if every layer loads; otherwise the old data keeps
/// serving and `/health` shows the error.
///
/// `loaded` is the [`crate::data::DataFolder::fingerprint`] taken just before the data being
/// served was read, so that a change made while it loaded is not missed.
pub async fn watch(state: AppState, every: Duration, loaded: Option<u64>) {
    let Some(folder) = state.folder().cloned() else {
        return;
    };
    let fingerprint = move || {
        let folder = folder.clone();
        async move {
            tokio::task::spawn_blocking(move || folder.fingerprint())
                .await
                .ok()
                .flatten()
        }
    };
    let mut last = loaded;
    loop {
        tokio::time::sleep(every).await;
        let now = fingerprint().await;
        if now != last {
            last = now;
            // Let a writer finish its files before reading them.
            tokio::time::sleep(every / 2).await;
            last = fingerprint().await.or(last);
            let _ = state.reload().await;
        }
    }
}
