//! Hardening: a bad-input matrix over every route, path escapes, limits, metrics, reloads under
//! load, `--watch` and SIGHUP, and graceful shutdown with requests in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header;
use serde_json::Value;
use terril::data::DataFolder;
use terril::{AppState, ServerOptions};

use crate::support::{
    client, fixtures, metric, raw_get, raw_request, root, spawn_binary, start_state, start_with,
};

/// Every answer to a bad request: the expected 4xx, JSON with `code` and `description`.
async fn assert_json_error(server_base: &str, target: &str, status: u16) {
    let resp = client()
        .get(format!("{server_base}{target}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), status, "{target}");
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/json",
        "{target}"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{target}: {body}"
    );
    assert!(
        body["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{target}: {body}"
    );
}

#[tokio::test]
async fn bad_input_on_every_route_gets_a_json_4xx() {
    let server = start_with(&root().join("geodata"), 16, ServerOptions::default()).await;
    // Nesting past the parser's depth limit (256) is refused; 65 levels are fine (below).
    let deep = format!("{}theme='MEMOIRE'{}", "(".repeat(300), ")".repeat(300));
    let cases: Vec<(String, u16)> = vec![
        ("/tiles/1e3/0/0.mvt".into(), 400),
        ("/tiles/%00/0/0.mvt".into(), 400),
        ("/tiles/3/0/0.mvt%00".into(), 400),
        ("/tiles/4294967296/0/0.mvt".into(), 400),
        ("/tiles/3/0/0.mvt?filter=%FF".into(), 400),
        ("/tiles/3/0/0.mvt?colour=red".into(), 400),
        (
            "/tiles/tourism/3/0/0.mvt?filter=theme%3D'a'&filter=theme%3D'b'".into(),
            400,
        ),
        (format!("/tiles/tourism/10/520/345.mvt?filter={deep}"), 400),
        ("/tiles/%FF.json".into(), 400),
        ("/collections/communes/items?limit=0".into(), 400),
        ("/collections/communes/items?limit=-1".into(), 400),
        ("/collections/communes/items?limit=1e9".into(), 400),
        ("/collections/communes/items?limit=10001".into(), 400),
        ("/collections/communes/items?offset=abc".into(), 400),
        (
            "/collections/communes/items?offset=99999999999999999999999".into(),
            400,
        ),
        ("/collections/communes/items?bbox=nan,0,1,1".into(), 400),
        ("/collections/communes/items?bbox=-200,0,0,1".into(), 400),
        ("/collections/communes/items?bbox=0,0,1".into(), 400),
        ("/collections/communes/items?bbox=1,1,0,0".into(), 400),
        ("/collections/communes/items?bbox=0,0,1,1,2,3,4".into(), 400),
        ("/collections/communes/items?bbox-crs=EPSG:9999".into(), 400),
        ("/collections/communes/items?filter=".into(), 400),
        (
            "/collections/communes/items?filter-lang=cql2-json&filter=%7B".into(),
            400,
        ),
        (
            "/collections/communes/items?filter=name%20LIKE%203".into(),
            400,
        ),
        ("/collections/communes/items?f=html".into(), 400),
        ("/collections/communes/items?foo=1".into(), 400),
        ("/collections/communes/items?limit=1&limit=2".into(), 400),
        ("/collections/communes/items?limit=%".into(), 400),
        ("/collections/communes/items/%FF".into(), 400),
        ("/collections/communes/items/nope".into(), 404),
        ("/collections/nope/items".into(), 404),
        ("/collections/nope/queryables".into(), 404),
        ("/query/at?lon=abc&lat=1".into(), 400),
        ("/query/at?lon=1e308&lat=0".into(), 400),
        ("/query/at?lat=0".into(), 400),
        ("/query/at?lon=1&lat=1&layers=nope".into(), 404),
        (
            "/query/within?layer=communes&lon=2.8&lat=50.4&radius_m=1e400".into(),
            400,
        ),
        (
            "/query/within?layer=communes&lon=2.8&lat=50.4&radius_m=inf".into(),
            400,
        ),
        (
            "/query/within?layer=communes&lon=2.8&lat=50.4&radius_m=10&limit=0".into(),
            400,
        ),
        (
            "/query/nearest?layer=communes&lon=2.8&lat=50.4&k=99999999999999999999999".into(),
            400,
        ),
        (
            "/query/nearest?layer=communes&lon=2.8&lat=50.4&max_distance_m=-1".into(),
            400,
        ),
        (
            format!("/query/near?layer=zones&target=infrastructure&distance_m=100&filter={deep}"),
            400,
        ),
        ("/query/near?layer=zones&distance_m=100".into(), 400),
        ("/fonts/DejaVu%20Sans%20Book/a-b.pbf".into(), 400),
        ("/fonts/DejaVu%20Sans%20Book/0-255.png".into(), 404),
        (format!("/fonts/{}/0-255.pbf", "x".repeat(300)), 400),
        ("/sprites/terril@3x.png".into(), 404),
        ("/sprites/terril.gif".into(), 404),
        ("/styles/%2e%2e.json".into(), 404),
        ("/api?f=yaml".into(), 400),
        ("/conformance?x=1".into(), 400),
        ("/no/such/route".into(), 404),
    ];
    for (target, status) in &cases {
        assert_json_error(&server.base, target, *status).await;
    }
    // Wrong methods on every route: 405 with JSON.
    for target in [
        "/",
        "/tiles/3/0/0.mvt",
        "/tiles.json",
        "/collections",
        "/query/at?lon=1&lat=1",
        "/health",
        "/metrics",
        "/styles/territoire.json",
    ] {
        for method in [
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
            reqwest::Method::PATCH,
            reqwest::Method::POST,
        ] {
            let resp = client()
                .request(method.clone(), server.url(target))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 405, "{method} {target}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "method_not_allowed");
        }
    }
    // A forged Host header never reaches the URLs we write: it is refused.
    for forged in [
        "evil.example\"><script>",
        "evil.example",
        "evil.example:8080",
    ] {
        let resp = client()
            .get(server.url("/tiles.json"))
            .header(header::HOST, forged)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{forged}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let text = resp.text().await.unwrap();
        assert!(!text.contains("evil"), "{text}");
        assert!(text.contains("host_not_allowed"), "{text}");
    }
}

#[tokio::test]
async fn uris_too_long_and_bodies_on_reads_are_refused() {
    let server = start_with(&fixtures(), 0, ServerOptions::default()).await;
    let long = format!("/tiles.json?pad={}", "a".repeat(40 * 1024));
    let (status, body) = raw_get(&server.base, &long).await;
    assert_eq!(status, 414, "{body}");
    assert!(body.contains("\"code\":\"uri_too_long\""), "{body}");
    // Past the head cap (48 KiB) the connection layer refuses the request line itself,
    // still with a 414 in JSON.
    let (status, body) = raw_get(
        &server.base,
        &format!("/tiles.json?pad={}", "a".repeat(70 * 1024)),
    )
    .await;
    assert_eq!(status, 414);
    assert!(body.contains("\"code\":\"uri_too_long\""), "{body}");
    let (status, body) = raw_request(
        &server.base,
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body_not_allowed"), "{body}");
    let (status, _) = raw_request(&server.base, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n").await;
    assert_eq!(status, 413);
    // A browser reads these refusals too: they carry CORS headers.
    let resp = client()
        .get(server.url(&format!("/tiles.json?pad={}", "a".repeat(40 * 1024))))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 414);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = client()
        .get(server.url("/health"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
}

/// No path reaches a file outside the built-in resources: raw `..`, encoded dots and slashes,
/// backslashes, absolute paths and NUL bytes all end in a 4xx with no file content.
#[tokio::test]
async fn static_routes_cannot_be_escaped() {
    let server = start_with(&fixtures(), 0, ServerOptions::default()).await;
    let targets = [
        "/assets/../Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/..%5cCargo.toml",
        "/assets/..\\Cargo.toml",
        "/assets//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/assets/app.js%00.txt",
        "/assets/index.html",
        "/assets/icons/..%2f..%2fCargo.toml",
        "/assets/icons/%2e%2e%2fterritoire.json",
        "/assets/icons/museum.svg%00",
        "/styles/..%2f..%2fCargo.toml",
        "/styles/..%2fCargo",
        "/styles/icons%2fmuseum.svg",
        "/fonts/..%2f..%2fetc/0-255.pbf",
        "/fonts/%2fetc%2fpasswd/0-255.pbf",
        "/sprites/..%2fterril.png",
        "/sprites/%2fetc%2fpasswd",
        "/../../../etc/passwd",
        "http://127.0.0.1/../../etc/passwd",
    ];
    for target in targets {
        let (status, body) = raw_get(&server.base, target).await;
        assert!((400..500).contains(&status), "{target}: {status}");
        assert!(
            !body.contains("[package]") && !body.contains("root:") && !body.contains("\"layers\""),
            "{target}: {body}"
        );
    }
}

#[tokio::test]
async fn slow_requests_time_out_and_large_answers_are_capped() {
    let options = ServerOptions {
        request_timeout: Duration::from_millis(1),
        ..ServerOptions::default()
    };
    let server = start_with(&fixtures(), 0, options).await;
    let resp = server.get("/fonts/DejaVu%20Sans%20Book/512-767.pbf").await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "timeout");

    let options = ServerOptions {
        max_response_bytes: 2_000,
        ..ServerOptions::default()
    };
    let server = start_with(&root().join("geodata"), 0, options).await;
    let resp = server.get("/collections/communes/items?limit=100").await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "response_too_large");
    assert_eq!(
        server
            .get("/collections/tourism/items?limit=1&properties=name")
            .await
            .status(),
        200
    );
}

/// Every tile z0–z13 over the territory, plain and brotli, through a 1 MiB cache: it holds at
/// most 1 MiB, and the hits show in `/metrics`.
#[tokio::test]
async fn the_tile_cache_keeps_its_byte_bound_and_metrics_count() {
    let server = start_with(&root().join("geodata"), 1, ServerOptions::default()).await;
    let catalog = crate::support::load(&root().join("geodata"));
    let [w, s, e, n] = catalog.bounds().unwrap();
    let mut paths = Vec::new();
    for z in 0..=13u8 {
        let a = terril::mercator::TileCoord::containing(w, n, z);
        let b = terril::mercator::TileCoord::containing(e, s, z);
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                paths.push(format!("/tiles/{z}/{x}/{y}.mvt"));
            }
        }
    }
    assert!(paths.len() > 100);
    for path in &paths {
        for encoding in ["identity", "br"] {
            let resp = client()
                .get(server.url(path))
                .header(header::ACCEPT_ENCODING, encoding)
                .send()
                .await
                .unwrap();
            assert!(resp.status() == 200 || resp.status() == 204);
        }
    }
    let health: Value = server.get("/health").await.json().await.unwrap();
    let bytes = health["tile_cache"]["bytes"].as_u64().unwrap();
    assert!(bytes > 0 && bytes <= 1024 * 1024, "{bytes}");
    for _ in 0..3 {
        server.get("/tiles/10/520/345.mvt").await;
    }
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
    };
    assert!(value("terril_tile_cache_hits_total") >= 2.0);
    assert!(value("terril_tile_cache_misses_total") >= paths.len() as f64);
    assert!(value("terril_tile_cache_bytes") <= 1024.0 * 1024.0);
    assert!(
        value(
            "terril_http_requests_total{route=\"/tiles/{z}/{x}/{y}\",method=\"GET\",status=\"200\"}"
        ) >= 3.0
    );
    assert!(
        metrics.contains(
            "terril_http_request_duration_seconds_bucket{le=\"0.0001\",route=\"/health\"}"
        ) || metrics.contains("terril_http_request_duration_seconds_bucket{route=\"/health\""),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "terril_data_version{{version=\"{}\"}} 1",
        health["version"].as_str().unwrap()
    )));
}

/// A copy of the fixtures in a temporary folder, to change while a server reads it.
fn scratch_data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "catalog.toml",
        "squares.geojson",
        "lines.geojson",
        "sites.geojson",
    ] {
        std::fs::copy(fixtures().join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// The sites file with the first site's visitor count set to `visitors`.
fn write_sites(dir: &std::path::Path, visitors: u32) {
    let text = std::fs::read_to_string(fixtures().join("sites.geojson")).unwrap();
    let text = text.replace("\"visitors\":1200", &format!("\"visitors\":{visitors}"));
    std::fs::write(dir.join("sites.geojson"), text).unwrap();
}

/// 20 reloads while four clients hammer tiles and queries: no request fails, each reload
/// shows in new ETags, and an invalid file midway changes nothing clients see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_lose_nothing() {
    let dir = scratch_data();
    let catalog = crate::support::load(dir.path());
    let state = AppState::with_folder(
        catalog,
        DataFolder::Dir(dir.path().to_path_buf()),
        16 * 1024 * 1024,
        ServerOptions::default(),
    );
    let server = start_state(state.clone()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let paths = [
        "/tiles/8/128/127.mvt",
        "/tiles/sites/8/128/127.mvt",
        "/collections/sites/items",
        "/query/within?layer=sites&lon=0.25&lat=0.25&radius_m=50000",
        "/query/at?lon=0.25&lat=0.1",
        "/tiles.json",
    ];
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, base) = (Arc::clone(&stop), server.base.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                // Bounded: at most 5,000 requests a client, and it stops when told.
                for i in 0..5_000usize {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let path = paths[(i + c) % paths.len()];
                    let resp = client().get(format!("{base}{path}")).send().await;
                    statuses.push(resp.map(|r| r.status().as_u16()).unwrap_or(0));
                }
                statuses
            })
        })
        .collect();

    let etag = || async {
        server.get("/tiles/sites/8/128/127.mvt").await.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let mut versions = vec![state.catalog().version()];
    let mut etags = vec![etag().await];
    for swap in 1..=20u32 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if swap == 10 {
            std::fs::write(
                dir.path().join("sites.geojson"),
                "{\"type\": \"FeatureCollection\", \"features\": [",
            )
            .unwrap();
            let err = state.reload().await.unwrap_err();
            assert!(
                err.contains("sites.geojson") && err.contains("invalid JSON"),
                "{err}"
            );
            assert_eq!(
                state.catalog().version(),
                *versions.last().unwrap(),
                "the old data keeps serving"
            );
            assert_eq!(
                etag().await,
                *etags.last().unwrap(),
                "clients see nothing change"
            );
            let health: Value = server.get("/health").await.json().await.unwrap();
            assert_eq!(health["status"], "degraded");
            assert!(
                health["reload_error"]
                    .as_str()
                    .unwrap()
                    .contains("sites.geojson")
            );
            continue;
        }
        write_sites(dir.path(), 1000 + swap);
        let version = state.reload().await.expect("a valid file reloads");
        assert!(
            !versions.contains(&version),
            "swap {swap} gives a new version"
        );
        versions.push(version);
        let tag = etag().await;
        assert!(!etags.contains(&tag), "swap {swap} gives new tiles");
        etags.push(tag);
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for c in clients {
        let statuses = c.await.unwrap();
        total += statuses.len();
        assert!(
            statuses.iter().all(|&s| s == 200 || s == 204),
            "failed requests: {:?}",
            statuses
                .iter()
                .filter(|&&s| s != 200 && s != 204)
                .collect::<Vec<_>>()
        );
    }
    assert!(total >= 100, "only {total} requests during the reloads");
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["loads"], 20, "the first load and 19 good reloads");
    let site: Value = server
        .get("/collections/sites/items/hole-site")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(site["properties"]["visitors"], 1020);
}

async fn health(base: &str) -> Value {
    crate::support::get_json(&format!("{base}/health")).await
}

async fn wait_for(base: &str, what: &str, test: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let h = health(base).await;
        if test(&h) {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s: {}", health(base).await);
}

#[tokio::test]
async fn watch_reloads_changed_files_and_keeps_serving_through_bad_ones() {
    let dir = scratch_data();
    let data = dir.path().to_str().unwrap().to_owned();
    let (_child, base) = spawn_binary(&[
        "serve",
        "--watch",
        "--bind",
        "127.0.0.1:0",
        "--cache-mb",
        "0",
        "--data",
        &data,
    ])
    .await;
    let first = health(&base).await["version"].clone();
    write_sites(dir.path(), 7);
    let changed = wait_for(&base, "a reload after the file changed", |h| {
        h["version"] != first
    })
    .await;
    std::fs::write(dir.path().join("lines.geojson"), "not json").unwrap();
    let degraded = wait_for(&base, "the bad file to be reported", |h| {
        h["status"] == "degraded"
    })
    .await;
    assert!(
        degraded["reload_error"]
            .as_str()
            .unwrap()
            .contains("lines.geojson")
    );
    assert_eq!(
        degraded["version"], changed["version"],
        "the previous data keeps serving"
    );
    let tile = client()
        .get(format!("{base}/tiles/roads/8/128/127.mvt"))
        .send()
        .await
        .unwrap();
    assert_eq!(tile.status(), 200, "the roads are still served");
    std::fs::copy(
        fixtures().join("lines.geojson"),
        dir.path().join("lines.geojson"),
    )
    .unwrap();
    wait_for(&base, "recovery", |h| h["status"] == "ok").await;
}

#[cfg(unix)]
fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_data() {
    let dir = scratch_data();
    let data = dir.path().to_str().unwrap().to_owned();
    let (child, base) = spawn_binary(&["serve", "--bind", "127.0.0.1:0", "--data", &data]).await;
    let first = health(&base).await["version"].clone();
    write_sites(dir.path(), 99);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        health(&base).await["version"],
        first,
        "no reload without --watch or SIGHUP"
    );
    signal(&child, "HUP");
    let h = wait_for(&base, "the SIGHUP reload", |h| h["version"] != first).await;
    assert_eq!(h["loads"], 2);
}

/// SIGTERM while 24 slow requests are in flight: every one is answered, then the process
/// exits 0 and stops accepting connections.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_exits_0() {
    // A grace period no test machine reaches: the point is that nothing in flight is dropped.
    let (mut child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        root().join("tests/fixtures").to_str().unwrap(),
        "--shutdown-grace-s",
        "120",
    ])
    .await;
    // Uncached glyph ranges: FreeType renders them one after the other, well over a second for
    // all of them, so most are still in flight when the signal arrives.
    let requests: Vec<_> = (0..24)
        .map(|i| {
            let url = format!(
                "{base}/fonts/DejaVu%20Sans%20Book/{}-{}.pbf",
                i * 256,
                i * 256 + 255
            );
            tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    // Signal once the server has read all 24 (answered or still working): a connection still in
    // the kernel's backlog, or whose request line has not arrived, is not in flight yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        // Answered ones first, then those in flight: one that ends in between is missed (the
        // loop goes round again), never counted twice. The /metrics request itself is in flight.
        let answered = metric(&base, "terril_http_requests_total{route=\"/fonts/").await;
        let read = answered + metric(&base, "terril_http_requests_in_flight ").await - 1.0;
        if read >= 24.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "requests never arrived: {read}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&child, "TERM");
    for r in requests {
        assert_eq!(r.await.unwrap().expect("answered, not dropped"), 200);
    }
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        client().get(format!("{base}/health")).send().await.is_err(),
        "no longer accepting"
    );
}

/// Links are built from an allowed host only: `Host` by default, `X-Forwarded-Host` and
/// `-Proto` behind a trusted proxy, the public URL when one is set (then `Host` is ignored);
/// answers built from the host say so with `Vary`.
#[tokio::test]
async fn links_name_allowed_hosts_only() {
    let get = |server: &crate::support::Server, headers: &[(&str, &str)]| {
        let mut request = client().get(server.url("/tiles.json"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    // Default: the request's own Host (127.0.0.1:port) is allowed and varied on.
    let server = start_with(&fixtures(), 0, ServerOptions::default()).await;
    let resp = get(&server, &[]).await.unwrap();
    assert_eq!(resp.status(), 200);
    let vary: Vec<_> = resp.headers().get_all("vary").iter().collect();
    assert!(
        vary.iter().any(|v| v.to_str().unwrap().contains("host")),
        "{vary:?}"
    );
    let tilejson: Value = resp.json().await.unwrap();
    assert!(
        tilejson["tiles"][0]
            .as_str()
            .unwrap()
            .starts_with(&server.base)
    );
    // Two Host headers: refused.
    let (status, body) = raw_request(
        &server.base,
        b"GET /tiles.json HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("evil"), "{body}");
    // Forwarded headers are ignored unless trusted.
    let resp = get(&server, &[("x-forwarded-host", "tiles.example.org")])
        .await
        .unwrap();
    let tilejson: Value = resp.json().await.unwrap();
    assert!(
        tilejson["tiles"][0]
            .as_str()
            .unwrap()
            .starts_with(&server.base)
    );

    // Behind a trusted proxy.
    let options = ServerOptions {
        trust_forwarded: true,
        allowed_hosts: vec!["tiles.example.org".into(), "127.0.0.1".into()],
        ..ServerOptions::default()
    };
    let server = start_with(&fixtures(), 0, options).await;
    let resp = get(
        &server,
        &[
            ("x-forwarded-host", "tiles.example.org"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let tilejson: Value = resp.json().await.unwrap();
    assert_eq!(
        tilejson["tiles"][0],
        "https://tiles.example.org/tiles/{z}/{x}/{y}.mvt"
    );
    let resp = get(&server, &[("x-forwarded-host", "evil.example")])
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "host_not_allowed");

    // A public URL wins, whatever the request says.
    let options = ServerOptions {
        public_url: Some("https://carte.example.fr".into()),
        ..ServerOptions::default()
    };
    let server = start_with(&fixtures(), 0, options).await;
    let resp = get(&server, &[("host", "evil.example")]).await.unwrap();
    assert_eq!(resp.status(), 200);
    let tilejson: Value = resp.json().await.unwrap();
    assert_eq!(
        tilejson["tiles"][0],
        "https://carte.example.fr/tiles/{z}/{x}/{y}.mvt"
    );
}
