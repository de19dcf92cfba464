//! The accept loop: HTTP/1.1 connections served by hyper with the router, graceful shutdown
//! with a deadline, and the data folder watched for changes.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

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
    state.warm_assets();
    let app = router(state);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Some(HEADER_READ_TIMEOUT))
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors (or another transient fault): wait a little
                        // rather than spin, and keep serving the connections already open.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let connection = graceful.watch(
                    http.serve_connection(TokioIo::new(stream), service),
                );
                tokio::spawn(async move {
                    let _ = connection.await;
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
