//! Heavy work never stalls the server: cheap routes answer while the CPU pool is busy, a
//! timed-out or abandoned request stops its work, concurrent misses of a tile render it once,
//! compiled filters are reused, and a reload empties the caches.
//!
//! The heavy data is synthetic: a grid of small squares near lon 0, lat 0 (like the other
//! fixtures, far from any real data), written into a temporary folder.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{client, metric, spawn_binary};

/// A folder with one layer of `n × n` squares `spacing` degrees apart, in five sizes (half to
/// all of the spacing) and, with `generalize`, that block in its catalog entry.
fn grid(n: u32, spacing: f64, generalize: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut features = Vec::with_capacity((n * n) as usize);
    for i in 0..n {
        for j in 0..n {
            let (x, y) = (f64::from(i) * spacing, f64::from(j) * spacing);
            let w = spacing / 2.0 * (1.0 + f64::from((i * 7 + j * 13) % 5) / 4.0);
            features.push(format!(
                r#"{{"type":"Feature","id":"g{i}-{j}","properties":{{"row":{i},"col":{j},"name":"g{i}-{j}"}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}"#,
                x + w,
                x + w,
                y + w,
                y + w
            ));
        }
    }
    std::fs::write(
        dir.path().join("grid.geojson"),
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        format!(
            "[[layer]]\nid = \"grid\"\ntitle = \"Synthetic grid\"\nmaxzoom = 4\nlabel = \"name\"\n{}",
            generalize.unwrap_or("")
        ),
    )
    .unwrap();
    dir
}

/// A 400-vertex circle around the middle of a grid of `n × n` squares 0.001° apart, in
/// CQL2 text (11 KB): every square is related to it exactly, which keeps a worker busy.
fn heavy_filter(n: u32) -> String {
    let c = f64::from(n) * 0.0005;
    let points: Vec<String> = (0..=400)
        .map(|k| {
            let a = f64::from(k % 400) / 400.0 * std::f64::consts::TAU;
            format!("{:.5} {:.5}", c + a.cos() * c * 0.8, c + a.sin() * c * 0.8)
        })
        .collect();
    format!(
        "S_TOUCHES(geometry, POLYGON(({}))) OR S_CROSSES(geometry, POLYGON(({})))",
        points.join(","),
        points.join(",")
    )
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// CPU time (user + system) of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A request that times out has its work stopped: the process's CPU goes idle within 100 ms
/// of the deadline, the client gets 503 `timeout`, and /metrics and the log say so.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_stops_its_work() {
    let n = 120;
    let dir = grid(n, 0.001, None);
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--request-timeout-s",
        "1",
    ])
    .await;
    let pid = child.id().unwrap();
    let url = format!(
        "{base}/collections/grid/items?limit=1&filter={}",
        encode(&heavy_filter(n))
    );
    let started = Instant::now();
    let resp = client().get(url).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "timeout", "{body}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    // Idle within 100 ms of the deadline: no CPU spent over the next half second.
    tokio::time::sleep(
        Duration::from_millis(100)
            .saturating_sub(started.elapsed().saturating_sub(Duration::from_secs(1))),
    )
    .await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spent = cpu_ticks(pid) - before;
    assert!(spent <= 5, "{spent} ticks of CPU after the timeout");
    assert!(metric(&base, "terril_cpu_jobs_cancelled_total").await >= 1.0);
    drop(child);
}

/// An abandoned request (the client hangs up) stops its work too, and cheap routes answer
/// quickly while every worker is busy.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_work_stops_and_health_stays_fast() {
    let n = 120;
    let dir = grid(n, 0.001, None);
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--request-timeout-s",
        "60",
    ])
    .await;
    let pid = child.id().unwrap();
    let url = format!(
        "{base}/collections/grid/items?limit=1&filter={}",
        encode(&heavy_filter(n))
    );
    // Two heavy requests, one per worker, abandoned after a second.
    let heavy: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), client().get(url).send()).await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // While they run, /health and a style answer at once.
    for path in ["/health", "/styles/territoire.json", "/health"] {
        let started = Instant::now();
        let resp = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{path} took {:?} while the workers were busy",
            started.elapsed()
        );
    }
    for h in heavy {
        h.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spent = cpu_ticks(pid) - before;
    assert!(spent <= 5, "{spent} ticks of CPU after the clients hung up");
    assert!(metric(&base, "terril_cpu_jobs_cancelled_total").await >= 2.0);
    drop(child);
}

/// Beyond the CPU pool's queue, work is refused at once with 503, `Retry-After` and a JSON
/// body, rather than queued without bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_work_is_shed_with_503_and_retry_after() {
    // Heavy enough that one request outlasts the 1 s deadline even on an idle, fast machine.
    let n = 200;
    let dir = grid(n, 0.001, None);
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--workers",
        "1",
        "--max-queue",
        "0",
        "--request-timeout-s",
        "1",
    ])
    .await;
    let url = format!(
        "{base}/collections/grid/items?limit=1&filter={}",
        encode(&heavy_filter(n))
    );
    let requests: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { client().get(url).send().await.unwrap() })
        })
        .collect();
    let mut shed = 0;
    for r in requests {
        let resp = r.await.unwrap();
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert!(resp.headers().contains_key("access-control-allow-origin"));
        let body: Value = resp.json().await.unwrap();
        if body["code"] == "overloaded" {
            shed += 1;
        } else {
            assert_eq!(body["code"], "timeout", "{body}");
        }
    }
    assert!(shed >= 6, "{shed} of 8 shed");
    drop(child);
}

/// SIGTERM with heavy work running: the process exits within its grace period.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_heavy_work_exits_within_the_grace_period() {
    let n = 120;
    let dir = grid(n, 0.001, None);
    let (mut child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--request-timeout-s",
        "120",
        "--shutdown-grace-s",
        "2",
    ])
    .await;
    let url = format!(
        "{base}/collections/grid/items?limit=1&filter={}",
        encode(&heavy_filter(n))
    );
    let heavy = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the process exits")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "exited {:?} after SIGTERM, grace 2 s",
        started.elapsed()
    );
    assert!(status.success(), "{status}");
    let _ = heavy.await;
}

/// Concurrent misses of one tile render it once; the second request for a filter finds it
/// compiled; a reload empties the tile cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_filter_cache_and_reload() {
    let dir = grid(120, 0.25, None);
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
    ])
    .await;
    // 16 clients ask for the same cold tile (z2: thousands of the grid's squares) at once.
    let requests: Vec<_> = (0..16)
        .map(|_| {
            let url = format!("{base}/tiles/grid/2/2/1.mvt");
            tokio::spawn(async move { client().get(url).send().await.unwrap().status() })
        })
        .collect();
    for r in requests {
        assert_eq!(r.await.unwrap(), 200);
    }
    let misses = metric(&base, "terril_tile_cache_misses_total").await;
    let coalesced = metric(&base, "terril_tile_renders_coalesced_total").await;
    let hits = metric(&base, "terril_tile_cache_hits_total").await;
    assert_eq!(misses + hits, 16.0, "misses {misses}, hits {hits}");
    assert_eq!(
        misses - coalesced,
        1.0,
        "rendered {} times",
        misses - coalesced
    );

    // A filter is compiled once, then found.
    for _ in 0..2 {
        let resp = client()
            .get(format!("{base}/collections/grid/items?filter=row%3D3"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(metric(&base, "terril_filter_cache_misses_total").await, 1.0);
    assert_eq!(metric(&base, "terril_filter_cache_hits_total").await, 1.0);

    // After a reload, the cache holds nothing of the old data.
    let health: Value = client()
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(health["tile_cache"]["entries"].as_u64().unwrap() >= 1);
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    for _ in 0..100 {
        let h: Value = client()
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if h["loads"] == 2 {
            assert_eq!(h["tile_cache"]["entries"], 0, "{h}");
            drop(child);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no reload after SIGHUP");
}

/// A generalized layer keeps its largest features below `full_from`, within its budget, and
/// every feature from `full_from` up; TileJSON and /catalog say so. The territory's layers are
/// not generalized.
#[tokio::test]
async fn generalization_keeps_the_largest_and_says_so() {
    let dir = grid(
        60,
        0.2,
        Some("[layer.generalize]\nfull_from = 4\nmax_features = 500\nmax_tile_kb = 64\n"),
    );
    let (child, base) = spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
    ])
    .await;
    let tilejson: Value = client()
        .get(format!("{base}/tiles.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let g = &tilejson["vector_layers"][0]["generalization"];
    assert_eq!(g["complete_from_zoom"], 4, "{tilejson}");
    assert_eq!(g["max_features_per_tile"], 500);
    let count = |bytes: &[u8]| -> usize {
        crate::support::decode_mvt(bytes)["grid"]["features"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // The grid is 12° wide: at z3 it fits in one tile, generalized; at z4 (complete) too.
    let z3 = client()
        .get(format!("{base}/tiles/grid/3/4/3.mvt"))
        .send()
        .await
        .unwrap();
    assert_eq!(z3.status(), 200);
    let z3 = z3.bytes().await.unwrap();
    assert!(z3.len() <= 64 * 1024 + 1024, "{} bytes", z3.len());
    let kept = count(&z3);
    assert!(kept > 0 && kept <= 500, "{kept} squares at z3");
    let decoded = crate::support::decode_mvt(&z3);
    // The largest squares (size class 4: 0.001° wide) come first.
    let rows: Vec<i64> = decoded["grid"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            f["properties"]["row"].as_i64().unwrap() * 7
                + f["properties"]["col"].as_i64().unwrap() * 13
        })
        .collect();
    assert!(
        rows.iter().all(|r| r % 5 == 4),
        "only the largest size class is kept: {rows:?}"
    );
    let z4 = client()
        .get(format!("{base}/tiles/grid/4/8/7.mvt"))
        .send()
        .await
        .unwrap();
    let z4 = z4.bytes().await.unwrap();
    assert!(count(&z4) > kept, "every feature from z4 up");
    drop(child);

    let territory = crate::support::load(&crate::support::root().join("geodata"));
    assert!(
        territory
            .layers()
            .iter()
            .all(|l| l.info.config.generalize.is_none())
    );
}
