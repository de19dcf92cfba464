//! The edges of the process, tried as an attacker would against the real binary: floods of
//! silent connections, slow and oversized heads, clients that never read, forged hosts,
//! symlinks out of the data folder, signals while loading, and the files real tools write
//! (a BOM, a null geometry). Floods are scaled down with the connection limits.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::{client, fixtures, metrics_text, spawn_binary};

/// A connection to `base` from the loopback address `from` (127.0.0.x: all of 127/8 is local).
async fn connect_from(base: &str, from: [u8; 4]) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// The same, with a small receive buffer: as a client on a slow link, the server's writes
/// stall once a few kilobytes are on their way.
async fn connect_slow_reader(base: &str, from: [u8; 4]) -> std::io::Result<TcpStream> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    socket.bind(std::net::SocketAddr::from((from, 0)))?;
    socket.connect(addr).await
}

/// `/health` answered on a fresh connection, and how long it took.
async fn health_time(base: &str) -> (u16, Duration) {
    let t = Instant::now();
    let resp = client()
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("health answers");
    (resp.status().as_u16(), t.elapsed())
}

/// Resident memory of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Reads what the server sends on `stream` until it closes (or 5 s pass).
async fn read_all(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Silent connections beyond the per-address limit are refused at the door with a JSON 503
/// (CORS included), the server keeps its memory and answers `/health` from another address
/// within 100 ms; a head over the cap gets a JSON 431; a request with raw `>` and `"` in its
/// target is answered as if they were percent-encoded; garbage gets a JSON 400.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_floods_and_bad_heads_leave_the_server_answering() {
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        fixtures().to_str().unwrap(),
        "--max-connections",
        "400",
        "--max-connections-per-ip",
        "100",
    ])
    .await;
    let pid = child.id().unwrap();
    let before = rss_kib(pid);

    // 150 silent connections from one address: 100 held, 50 refused with a JSON 503.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..150 {
        let mut s = connect_from(&base, [127, 0, 0, 2]).await.expect("connect");
        let mut peek = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut peek)).await {
            Ok(Ok(n)) if n > 0 => {
                let text = String::from_utf8_lossy(&peek[..n]);
                assert!(text.starts_with("HTTP/1.1 503"), "{text}");
                assert!(text.contains("access-control-allow-origin: *"), "{text}");
                assert!(text.contains("retry-after"), "{text}");
                assert!(text.contains("\"code\":\"too_many_connections\""), "{text}");
                refused += 1;
            }
            _ => held.push(s),
        }
    }
    assert_eq!(held.len(), 100);
    assert_eq!(refused, 50);
    // Heads that trickle in, each 40 KB so far, from a second address.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = connect_from(&base, [127, 0, 0, 3]).await.expect("connect");
        let mut head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
        while head.len() < 40 * 1024 {
            head.extend_from_slice(
                b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            );
        }
        s.write_all(&head).await.unwrap();
        slow.push(s);
    }
    for _ in 0..10 {
        let (status, took) = health_time(&base).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(100), "/health took {took:?}");
    }
    let after = rss_kib(pid);
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );

    // One head over the 48 KiB cap: a JSON 431 with CORS, and the connection closed.
    let mut s = connect_from(&base, [127, 0, 0, 4]).await.unwrap();
    let mut head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
    while head.len() < 60 * 1024 {
        head.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let _ = s.write_all(&head).await;
    let text = read_all(&mut s).await;
    assert!(
        text.starts_with("HTTP/1.1 431"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert!(text.contains("access-control-allow-origin: *"), "{text}");
    assert!(text.contains("\"code\":\"head_too_large\""), "{text}");

    // Characters curl sends as they are: encoded on the way in, the filter works.
    let mut s = connect_from(&base, [127, 0, 0, 4]).await.unwrap();
    s.write_all(
        b"GET /collections/sites/items?filter=visitors>1000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let text = read_all(&mut s).await;
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(300)]
    );
    // Not HTTP at all: a JSON 400 with CORS.
    let mut s = connect_from(&base, [127, 0, 0, 4]).await.unwrap();
    s.write_all(b"HELLO there\r\n\r\n").await.unwrap();
    let text = read_all(&mut s).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("access-control-allow-origin: *"), "{text}");
    assert!(text.contains("\"code\":\"bad_request\""), "{text}");

    // The trickling heads are dropped by the head timeout (10 s); the held ones too.
    drop(held);
    let started = Instant::now();
    let mut closed = 0;
    for s in &mut slow {
        let mut buf = [0u8; 64];
        let left = Duration::from_secs(15).saturating_sub(started.elapsed());
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(left, s.read(&mut buf)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, 50, "slow heads closed by the head timeout");
    let metrics = metrics_text(&base).await;
    assert!(
        metrics.contains("terril_connections_refused_total{reason=\"per_address\"} 50"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("connections"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Clients that ask for a large answer and never read it: the answers they hold stay within
/// the body-memory budget (48 MiB here: the others get 503), they are cut off after the write
/// timeout, `/health` answers meanwhile, and a second wave finds the memory of the first.
/// (An answer of 10,000 features of about 1 KB is more than the kernel's socket buffers
/// take for a client that reads nothing.)
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_bounded_and_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let note = "n".repeat(900);
    let mut text = String::from(r#"{"type":"FeatureCollection","features":["#);
    for i in 0..10_000 {
        if i > 0 {
            text.push(',');
        }
        let (lon, lat) = (
            2.0 + f64::from(i % 100) * 0.01,
            50.0 + f64::from(i / 100) * 0.01,
        );
        text.push_str(&format!(
            r#"{{"type":"Feature","id":"p{i}","properties":{{"note":"{note}"}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}"#
        ));
    }
    text.push_str("]}");
    write_layer(dir.path(), "big.geojson", text.as_bytes());
    write_layer(dir.path(), "catalog.toml", b"[[layer]]\nid = \"big\"\n");
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--write-timeout-s",
        "2",
        "--max-body-memory-mb",
        "48",
    ])
    .await;
    let pid = child.id().unwrap();
    let before = rss_kib(pid);
    let mut peaks = Vec::new();
    for wave in 0..3u8 {
        let mut stuck = Vec::new();
        for i in 0..12u8 {
            let mut s = connect_slow_reader(&base, [127, 0, 1 + wave, i + 1])
                .await
                .unwrap();
            // Uncompressed, about 10 MB, never read.
            s.write_all(
                b"GET /collections/big/items?limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            )
            .await
            .unwrap();
            stuck.push(s);
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (status, took) = health_time(&base).await;
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(100), "/health took {took:?}");
        peaks.push(rss_kib(pid));
        // After the write timeout the connections are gone: reading them ends early.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (mut cut, mut busy, mut size) = (0usize, 0usize, 0usize);
        for s in &mut stuck {
            // Until the connection ends (a cut-off answer) or a refusal is whole (its
            // connection stays open for the next request), for at most 10 s.
            let mut buf = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            let got = loop {
                let mut chunk = [0u8; 65536];
                match tokio::time::timeout_at(deadline.into(), s.read(&mut chunk)).await {
                    Err(_) => break Err(()),
                    Ok(Ok(0) | Err(_)) => break Ok(()),
                    Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                }
                if buf.starts_with(b"HTTP/1.1 503") && buf.ends_with(b"}") {
                    break Ok(());
                }
            };
            let text = String::from_utf8_lossy(&buf);
            if text.starts_with("HTTP/1.1 503") {
                assert!(text.contains("\"code\":\"busy\""), "{text}");
                busy += 1;
                continue;
            }
            let length: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(usize::MAX);
            let body = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
            size = size.max(length);
            if body == length {
                // Answered late, once this loop was reading.
                continue;
            }
            assert!(
                got.is_ok(),
                "the connection of a client that read nothing is closed"
            );
            cut += 1;
        }
        // Some held (at most 4 of these at once fit in the budget; those cut off early free
        // their share for later ones), the others refused.
        assert!(
            busy >= 1 && cut >= 1 && size > 4 << 20,
            "{cut} cut off, {busy} refused, answers of {size} bytes"
        );
    }
    let (status, _) = health_time(&base).await;
    assert_eq!(status, 200);
    // Bounded: the 48 MiB of held bodies, answers being built (about 3× their size while
    // built, a few at a time), and what the allocator keeps of them for reuse: a plateau,
    // not growth, as the third wave shows. (One sample per wave lands on however many
    // answers are being built at that moment, so the first two may differ by a few of them.)
    assert!(
        peaks.iter().all(|p| *p < before + 256 * 1024),
        "RSS {before} KiB before, {peaks:?} KiB at the peaks"
    );
    assert!(
        peaks[2] < peaks[0].max(peaks[1]) + 32 * 1024,
        "the third wave grew: {peaks:?}"
    );
}

fn write_layer(dir: &Path, name: &str, text: &[u8]) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Files real tools write load: a UTF-8 BOM is skipped, a feature with `"geometry": null`
/// is kept for items and left out of tiles and queries, a coordinate a rounding hair past
/// 180° is clamped. A layer file symlinked out of the data folder is refused with a clear
/// message that shows neither the file's content nor an absolute path, on the command line
/// and at `/health` after a reload.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_files_load_and_nothing_outside_the_folder_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = "\u{feff}".as_bytes().to_vec();
    text.extend_from_slice(
        br#"{"type":"FeatureCollection","features":[
        {"type":"Feature","id":"a","properties":{"name":"located"},"geometry":{"type":"Point","coordinates":[2.83,50.43]}},
        {"type":"Feature","id":"b","properties":{"name":"unlocated"},"geometry":null},
        {"type":"Feature","id":"c","properties":{"name":"edge"},"geometry":{"type":"Point","coordinates":[180.0000000001,50.0]}}]}"#,
    );
    write_layer(dir.path(), "sites.geojson", &text);
    write_layer(dir.path(), "catalog.toml", b"[[layer]]\nid = \"sites\"\n");
    let data = dir.path().to_str().unwrap().to_owned();
    let (child, base) = spawn_binary(&["serve", "--bind", "127.0.0.1:0", "--data", &data]).await;
    let items: Value = client()
        .get(format!("{base}/collections/sites/items"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["numberMatched"], 3, "{items}");
    let unlocated = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "b")
        .unwrap();
    assert!(unlocated["geometry"].is_null(), "{unlocated}");
    let catalog: Value = client()
        .get(format!("{base}/catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["layers"][0]["unlocated"], 1, "{catalog}");
    let within: Value = client()
        .get(format!(
            "{base}/query/within?layer=sites&lon=2.83&lat=50.43&radius_m=1000"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(within["numberReturned"], 1, "{within}");

    // A secret beside the folder, and the layer file swapped for a symlink to it.
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.geojson");
    std::fs::write(&secret, "password = hunter2\n").unwrap();
    std::fs::remove_file(dir.path().join("sites.geojson")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("sites.geojson")).unwrap();
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut health = Value::Null;
    for _ in 0..50 {
        health = client()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if health["status"] == "degraded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health["status"], "degraded", "{health}");
    let shown = health.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains(outside.path().to_str().unwrap()), "{shown}");
    assert!(!shown.contains(&data), "{shown}");
    assert!(shown.contains("sites"), "{shown}");
    // The old data keeps serving.
    assert_eq!(
        client()
            .get(format!("{base}/collections/sites/items"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // On the command line: refused, named, nothing of the file.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data", &data])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sites.geojson"), "{stderr}");
    assert!(stderr.contains("outside"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// SIGHUP while the data loads is kept for later (the process does not die of it), and
/// SIGTERM while it loads ends the process cleanly.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_while_loading_are_harmless() {
    // Enough points for the load to take a while in a debug build.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(r#"{"type":"FeatureCollection","features":["#);
    for i in 0..200_000 {
        if i > 0 {
            text.push(',');
        }
        let (lon, lat) = (
            2.0 + f64::from(i % 1000) * 0.001,
            50.0 + f64::from(i / 1000) * 0.001,
        );
        text.push_str(&format!(
            r#"{{"type":"Feature","id":"p{i}","properties":{{"n":{i}}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}"#
        ));
    }
    text.push_str("]}");
    write_layer(dir.path(), "points.geojson", text.as_bytes());
    write_layer(dir.path(), "catalog.toml", b"[[layer]]\nid = \"points\"\n");
    let data = dir.path().to_str().unwrap().to_owned();
    let launch = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_terril"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data", &data])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let kill = |child: &tokio::process::Child, signal: &str| {
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
    };

    // SIGHUP at once: the process lives on, loads, and serves.
    let mut child = launch();
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill(&child, "-HUP");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    let listening = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let mut line = String::new();
            if tokio::io::AsyncBufReadExt::read_line(&mut lines, &mut line)
                .await
                .unwrap()
                == 0
            {
                return false;
            }
            out.push_str(&line);
            if line.contains("listening on") {
                return true;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        listening,
        "the process ended after SIGHUP while loading: {out}"
    );
    assert!(child.try_wait().unwrap().is_none(), "still running");
    drop(child);

    // SIGTERM at once: a clean exit, 0.
    let mut child = launch();
    tokio::time::sleep(Duration::from_millis(100)).await;
    kill(&child, "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status}");
}
