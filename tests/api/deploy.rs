//! The replicated deployment of `deploy/`: Terril replicas behind nginx (failover, cache), as
//! `deploy/local.sh` starts it. A replica killed under load costs no client request; an edit
//! in PostGIS reaches every replica, and nginx's cache hides it no longer than Cache-Control
//! says.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::{TempPostgres, client, decode_mvt, feature, root};

/// `deploy/local.sh` running: nginx on `port`, replicas on `port + k`. Stopped (SIGTERM, which
/// the script passes on to nginx and the replicas) when dropped.
pub struct Deployment {
    script: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

/// A port `p` such that `p..=p + n` look free.
fn free_ports(n: u16) -> u16 {
    for _ in 0..50 {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        if p > 60_000 {
            continue;
        }
        if (0..=n).all(|k| std::net::TcpListener::bind(("127.0.0.1", p + k)).is_ok()) {
            return p;
        }
    }
    panic!("no free ports");
}

impl Deployment {
    pub fn start(replicas: u16, terril_args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("terril-deploy-")
            .tempdir()
            .unwrap();
        let port = free_ports(replicas);
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("deploy/local.sh"))
            .args([
                "--replicas",
                &replicas.to_string(),
                "--port",
                &port.to_string(),
            ])
            .arg("--dir")
            .arg(dir.path())
            .args(["--bin", env!("CARGO_BIN_EXE_terril"), "--"])
            .args(terril_args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut script = cmd.spawn().expect("deploy/local.sh starts");
        let mut out = std::io::BufReader::new(script.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(
            line.starts_with("serving on"),
            "deploy/local.sh: {line:?}; logs in {}",
            dir.path().display()
        );
        Self { script, dir, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn replica_url(&self, k: u16, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port + k)
    }

    pub fn replica_pid(&self, k: u16) -> i32 {
        std::fs::read_to_string(self.dir.path().join(format!("replica-{k}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.script.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.script.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.script.kill();
    }
}

fn kill9(pid: i32) {
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Paths a map and a planner ask for: tiles of the territory at z10–z14 (many distinct, so
/// nginx's cache misses for a while), features and queries (not cached).
fn workload(i: u64) -> String {
    let z = 10 + (i % 5) as u8;
    let (x0, y0) = (519u32 << (z - 10), 345u32 << (z - 10));
    let span = 1u32 << (z - 10);
    let x = x0 + (i as u32 * 7) % (span * 2);
    let y = y0 + (i as u32 * 13) % (span * 2);
    match i % 4 {
        0 | 1 => format!("/tiles/{z}/{x}/{y}.mvt"),
        2 => format!(
            "/query/nearest?layer=infrastructure&lon={:.4}&lat={:.4}&k=3",
            2.6 + (i % 40) as f64 * 0.01,
            50.4 + (i % 17) as f64 * 0.01
        ),
        _ => format!("/collections/communes/items?limit=3&offset={}", i % 100),
    }
}

/// Steady load through nginx for 20 s; one replica is killed with SIGKILL at 7 s and comes
/// back (restarted as systemd would); no client request fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_costs_no_request() {
    let data = root().join("geodata");
    let deployment = Deployment::start(2, &["--data", data.to_str().unwrap()], &[]);
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let load = Duration::from_secs(20);
    let mut workers = Vec::new();
    for w in 0..8u64 {
        let (ok, failed, errors) = (ok.clone(), failed.clone(), errors.clone());
        let base = deployment.url("");
        workers.push(tokio::spawn(async move {
            let http = client();
            let mut i = w * 1_000_003;
            while started.elapsed() < load {
                i += 1;
                let path = workload(i);
                match http.get(format!("{base}{path}")).send().await {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 204 | 304) => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {}", r.status()));
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        errors.lock().unwrap().push(format!("{path}: {e}"));
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    let before_kill = ok.load(Ordering::Relaxed);
    let victim = deployment.replica_pid(1);
    kill9(victim);
    let killed = Instant::now();
    // The supervisor starts it again; it answers on its own port within seconds.
    let back = loop {
        let pid = deployment.replica_pid(1);
        if pid != victim
            && let Ok(r) = client()
                .get(deployment.replica_url(1, "/health"))
                .send()
                .await
            && r.status() == 200
        {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "replica 1 did not come back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!(
        "{ok} requests answered ({before_kill} before the kill), {failed} failed; replica back after {back:?}"
    );
    assert_eq!(failed, 0, "{:?}", &errors.lock().unwrap()[..]);
    assert!(
        ok > before_kill + 100,
        "the load went on after the kill: {ok}"
    );
    // The supervisor saw the replica end and started it again.
    let log = std::fs::read_to_string(deployment.dir.path().join("logs/replica-1.log")).unwrap();
    assert!(log.contains("starting it again"), "{log}");
}

/// An edit in PostGIS shows on both replicas within the documented delay (the change is
/// seen within about a second), and through nginx's cache no later than its max-age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_postgis_reaches_every_replica_and_the_cache_in_time() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "public",
        "communes",
        "EPSG:4326",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[[layer]]\nid = \"communes\"\ntable = \"communes\"\nid_column = \"id\"\nlabel = \"name\"\n",
    )
    .unwrap();
    let max_age = 4u64;
    let cache_control = format!("public, max-age={max_age}");
    let pg_url = pg.url("terril");
    let deployment = Deployment::start(
        2,
        &[
            "--data",
            dir.path().to_str().unwrap(),
            "--pg-url",
            &pg_url,
            "--cache-control",
            &cache_control,
        ],
        &[],
    );
    let tile = "/tiles/communes/12/2080/1381.mvt";
    let name_in = |bytes: &[u8]| -> String {
        let decoded = decode_mvt(bytes);
        feature(&decoded, "communes", "62498")["properties"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let get = |url: String| async move {
        let r = client().get(url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let cache = r
            .headers()
            .get("x-cache-status")
            .map(|v| v.to_str().unwrap().to_owned());
        (cache, r.bytes().await.unwrap())
    };
    // Warm nginx's cache: the second answer is a HIT.
    let (first, bytes) = get(deployment.url(tile)).await;
    assert_eq!(first.as_deref(), Some("MISS"));
    assert_eq!(name_in(&bytes), "Lens");
    let (second, _) = get(deployment.url(tile)).await;
    assert_eq!(second.as_deref(), Some("HIT"));
    let cached_at = Instant::now();

    pg.psql(
        "terril",
        "UPDATE public.communes SET name = 'Lens (modifié)' WHERE id = '62498'",
    );
    let edited = Instant::now();
    // Every replica, asked directly, draws the new name within 5 s.
    for k in 1..=2 {
        loop {
            let (_, bytes) = get(deployment.replica_url(k, tile)).await;
            if name_in(&bytes) == "Lens (modifié)" {
                break;
            }
            assert!(
                edited.elapsed() < Duration::from_secs(5),
                "replica {k} still draws the old name"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let replicas_after = edited.elapsed();
    // Through nginx: the old tile at most until its max-age ends, then the new one.
    let limit = Duration::from_secs(max_age) + Duration::from_millis(1500);
    let seen = loop {
        let (status, bytes) = get(deployment.url(tile)).await;
        if name_in(&bytes) == "Lens (modifié)" {
            break (cached_at.elapsed(), status);
        }
        assert!(
            cached_at.elapsed() < limit,
            "nginx served the old tile {:?} after caching it (max-age {max_age} s)",
            cached_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "replicas drew the edit after {replicas_after:?}; nginx served it {:?} after caching the old tile ({:?})",
        seen.0, seen.1
    );
}
