//! Test support: start a server on port 0, fetch, and decode tiles with third-party readers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use geo::{Coord, Geometry, MapCoords};
use serde_json::Value;
use terril::data::{DataFolder, Layer};
use terril::mercator::lonlat_to_mercator;
use terril::source::{Catalog, MemoryLayer};
use terril::{AppState, ServerOptions};
use tokio::sync::oneshot;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The synthetic fixtures folder.
pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

/// A running server; stops when dropped.
pub struct Server {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    /// The absolute URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET a path with no extra headers.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        client().get(self.url(path)).send().await.expect("request")
    }

    /// GET a path with an `Accept` header.
    pub async fn client_get(&self, path: &str, accept: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .expect("request")
    }
}

/// An HTTP client that neither decompresses nor follows redirects: tests see the raw answer.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Loads the catalog of a data folder (on a runtime of its own, so that sync and async tests
/// alike can call it).
pub fn load(dir: &Path) -> Catalog {
    let folder = DataFolder::Dir(dir.to_path_buf());
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(Catalog::load(&folder, None))
        })
        .join()
        .expect("the loader ran")
    })
    .unwrap_or_else(|e| panic!("{} loads: {e}", dir.display()))
}

/// The in-memory layer `id` of a catalog.
pub fn memory<'a>(catalog: &'a Catalog, id: &str) -> &'a MemoryLayer {
    catalog
        .layer(id)
        .unwrap_or_else(|| panic!("no layer {id}"))
        .as_memory()
        .expect("an in-memory layer")
}

/// Every in-memory layer of a catalog.
pub fn memory_layers(catalog: &Catalog) -> Vec<&MemoryLayer> {
    catalog
        .layers()
        .iter()
        .filter_map(|l| l.as_memory())
        .collect()
}

/// The lon/lat geometry of feature `i`.
pub fn lonlat(layer: &Layer, i: usize) -> &Geometry<f64> {
    layer.features[i]
        .geometry
        .as_ref()
        .expect("a located feature")
}

/// A lon/lat geometry in EPSG:3857.
pub fn to_mercator(g: &Geometry<f64>) -> Geometry<f64> {
    g.map_coords(|c| {
        let (x, y) = lonlat_to_mercator(c.x, c.y);
        Coord { x, y }
    })
}

/// Property `key` of feature `i` as JSON (null when absent).
pub fn prop(layer: &Layer, i: usize, key: &str) -> Value {
    layer.property(i, key).map_or(Value::Null, |v| v.to_json())
}

/// Starts a server on 127.0.0.1:0 over the data in `dir`.
pub async fn start_with(dir: &Path, cache_mb: u64, options: ServerOptions) -> Server {
    let catalog = load(dir);
    start_state(AppState::new(catalog, cache_mb * 1024 * 1024, options)).await
}

/// Starts a server on 127.0.0.1:0 for a prepared state.
pub async fn start_state(state: AppState) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(terril::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Server {
        base: format!("http://{addr}"),
        stop: Some(stop),
    }
}

/// Starts a server over the synthetic fixtures, with a 16 MiB cache.
pub async fn start_fixtures() -> Server {
    start_with(&fixtures(), 16, ServerOptions::default()).await
}

/// The Python interpreter that has the test requirements (`TERRIL_PYTHON`, else `python3`).
pub fn python() -> String {
    std::env::var("TERRIL_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// GETs `url` and parses its JSON body.
pub async fn get_json(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Decodes MVT bytes with the `mapbox-vector-tile` Python package into JSON.
///
/// Panics (failing the test) when the decoder is missing: `.ci/run` installs it.
pub fn decode_mvt(bytes: &[u8]) -> Value {
    let mut child = Command::new(python())
        .arg(root().join("tests/tools/decode_mvt.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (see .ci/run)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write tile");
    let out = child.wait_with_output().expect("decoder ran");
    assert!(
        out.status.success(),
        "the Python MVT decoder failed (pip install -r tests/requirements.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("decoder prints JSON")
}

/// Fetches a tile and returns its raw (uncompressed) bytes, asserting a 200.
pub async fn tile_bytes(server: &Server, path: &str) -> Vec<u8> {
    let resp = server.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.bytes().await.expect("body").to_vec()
}

/// The layer names of a decoded tile, sorted.
pub fn layer_names(decoded: &Value) -> Vec<String> {
    let mut names: Vec<String> = decoded
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// The string id of a decoded feature: its `id` property, else its numeric MVT id.
pub fn feature_id(f: &Value) -> String {
    match f["properties"]["id"].as_str() {
        Some(id) => id.to_owned(),
        None => f["id"].to_string(),
    }
}

/// The decoded feature of `layer` whose id (see [`feature_id`]) is `id`.
pub fn feature<'a>(decoded: &'a Value, layer: &str, id: &str) -> &'a Value {
    decoded[layer]["features"]
        .as_array()
        .unwrap_or_else(|| panic!("no layer {layer} in {decoded}"))
        .iter()
        .find(|f| feature_id(f) == id)
        .unwrap_or_else(|| panic!("no feature {id} in {layer}"))
}

/// Every `[x, y]` pair in a decoded coordinates array, however deeply nested.
pub fn all_points(coords: &Value) -> Vec<[f64; 2]> {
    match coords.as_array() {
        Some(items) if items.len() == 2 && items.iter().all(Value::is_number) => {
            vec![[items[0].as_f64().unwrap(), items[1].as_f64().unwrap()]]
        }
        Some(items) => items.iter().flat_map(all_points).collect(),
        None => vec![],
    }
}

/// The answer to a raw HTTP/1.1 request: status and body (for what a client library would
/// refuse to send: raw dots, backslashes, NUL bytes, bodies on GET).
pub async fn raw_request(base: &str, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await;
    assert!(
        read.is_ok(),
        "no answer within 10 s to {:?}",
        String::from_utf8_lossy(&request[..request.len().min(80)])
    );
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A raw `GET` of a target, closing the connection after the answer.
pub async fn raw_get(base: &str, target: &str) -> (u16, String) {
    raw_request(
        base,
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

/// The server's `/metrics` page, as text.
pub async fn metrics_text(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The sum of the values of the `/metrics` lines that start with `name` (a metric's name, or
/// its name and the start of its labels).
pub async fn metric(base: &str, name: &str) -> f64 {
    metrics_text(base)
        .await
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Starts the `terril` binary with `args` and waits for its `listening on` line.
pub async fn spawn_binary(args: &[&str]) -> (tokio::process::Child, String) {
    spawn_binary_env(args, &[]).await
}

/// [`spawn_binary`] with environment variables.
pub async fn spawn_binary_env(
    args: &[&str],
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "terril=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the terril binary starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            let plain: String = strip_ansi(&line);
            if let Some(at) = plain.find("listening on http://") {
                return plain[at + "listening on ".len()..].trim().to_owned();
            }
        }
        panic!("the server ended before listening");
    })
    .await
    .expect("the server listens within 30 s");
    // Keep draining its output so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // Then wait for the startup work (compressing the map's assets, rendering sprites and the
    // first glyph ranges), so that tests measuring CPU time or memory see an idle server.
    let started = std::time::Instant::now();
    loop {
        if let Ok(resp) = client().get(format!("{base}/health")).send().await
            && let Ok(health) = resp.json::<Value>().await
            && health["map_assets"] == "ready"
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the map assets are not ready after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    (child, base)
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A PostgreSQL server of a test's own, with PostGIS: a fresh cluster in a temporary folder,
/// reached through a Unix socket there, stopped and removed when dropped. Tests that stop
/// and start the database, or edit it, disturb nobody else.
///
/// As root the cluster runs as the `postgres` user (PostgreSQL refuses root).
pub struct TempPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

/// The PostgreSQL server programs (`initdb`, `pg_ctl`): `PG_BIN`, else Debian's.
fn pg_bin(program: &str) -> String {
    let dir = std::env::var("PG_BIN").unwrap_or_else(|_| {
        let found = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin"))
                    .filter(|p| p.join("initdb").exists())
                    .max()
            });
        found
            .expect("PostgreSQL server programs (apt-get install postgresql-15-postgis-3)")
            .display()
            .to_string()
    });
    format!("{dir}/{program}")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the cluster's owner: `postgres` when we are root.
fn owner_command(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// Runs a command as the cluster's owner, asserting that it succeeds.
fn run_as_owner(program: &str, args: &[&str]) -> String {
    let out = owner_command(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TempPostgres {
    /// Creates and starts a cluster with a database `terril` holding PostGIS.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("terril-pg-")
            .tempdir()
            .expect("a temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = dir.path().join("data");
        run_as_owner(
            &pg_bin("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        let pg = Self { dir, port };
        pg.pg_ctl("start");
        pg.psql("postgres", "CREATE DATABASE terril");
        pg.psql("terril", "CREATE EXTENSION postgis");
        pg
    }

    fn pg_ctl(&self, action: &str) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses='' -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log");
        let mut args = vec![
            action,
            "-D",
            data.to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "-l",
            log.to_str().unwrap(),
        ];
        if action != "stop" {
            args.extend(["-o", &options]);
        } else {
            args.extend(["-m", "fast"]);
        }
        run_as_owner(&pg_bin("pg_ctl"), &args);
    }

    /// Stops the server (fast shutdown: sessions are ended).
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts it again.
    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    /// The libpq URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@/{db}?host={}&port={}",
            self.dir.path().display(),
            self.port
        )
    }

    /// The GDAL/OGR connection string of database `db`.
    pub fn ogr(&self, db: &str) -> String {
        format!(
            "PG:host={} port={} user=postgres dbname={db}",
            self.dir.path().display(),
            self.port
        )
    }

    /// Runs SQL with `psql` and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(db),
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs (apt-get install postgresql-client)");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Loads a GeoJSON file into `schema.table` of database `terril` with `ogr2ogr`, in
    /// `srs` (e.g. `EPSG:2154`), with a `fid` primary key and a GiST index on `geom`.
    pub fn load(&self, file: &Path, schema: &str, table: &str, srs: &str) {
        self.psql("terril", &format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
        let out = Command::new("ogr2ogr")
            .args(["-f", "PostgreSQL", &self.ogr("terril")])
            .arg(file)
            .args([
                "-nln",
                &format!("{schema}.{table}"),
                "-t_srs",
                srs,
                "-lco",
                "GEOMETRY_NAME=geom",
                "-lco",
                "FID=fid",
                "-lco",
                "SPATIAL_INDEX=GIST",
                "-overwrite",
            ])
            .output()
            .expect("ogr2ogr runs (apt-get install gdal-bin)");
        assert!(
            out.status.success(),
            "ogr2ogr {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = owner_command(&pg_bin("pg_ctl"))
            .args([
                "stop",
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
            ])
            .stdin(Stdio::null())
            .output();
    }
}
