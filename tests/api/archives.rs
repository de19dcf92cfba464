//! Tile archives written by `terril export` (PMTiles and MBTiles) and served again with
//! `--archive`: from a local file, through nginx with range requests (the CDN/static-host
//! case) and from a local S3-compatible server (moto); every tile equals the one Terril
//! renders live.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{client, get_json, python, root};

/// A child process killed and reaped when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

async fn wait_for(url: &str) {
    let started = Instant::now();
    loop {
        if client().get(url).send().await.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{url} does not answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// nginx (Debian's) serving `dir` as static files on a port of its own, logging each
/// request's Range header.
fn nginx_static(dir: &Path, work: &Path) -> (Service, u16) {
    let port = free_port();
    let user = if crate::support::is_root() {
        "user root;"
    } else {
        ""
    };
    let conf = work.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "{user}\nworker_processes 1;\npid {w}/nginx.pid;\nerror_log {w}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  log_format ranges '$request $status \"$http_range\"';\n  \
             access_log {w}/access.log ranges;\n  client_body_temp_path {w}/body;\n  \
             proxy_temp_path {w}/proxy;\n  fastcgi_temp_path {w}/fcgi;\n  uwsgi_temp_path {w}/uwsgi;\n  \
             scgi_temp_path {w}/scgi;\n  types {{ application/octet-stream pmtiles; }}\n  \
             server {{ listen 127.0.0.1:{port}; root {d}; }}\n}}\n",
            w = work.display(),
            d = dir.display(),
        ),
    )
    .unwrap();
    let nginx = which("nginx").unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"));
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(work.join("error.log"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx starts (apt-get install nginx-light)");
    (Service(child), port)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// moto's S3 server (PyPI `moto[server]`) on a port of its own.
fn moto_s3() -> (Service, u16) {
    let port = free_port();
    let child = Command::new(python())
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto's server starts (pip install -r tests/requirements.txt)");
    (Service(child), port)
}

const S3_ENV: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "terril-test"),
    ("AWS_SECRET_ACCESS_KEY", "terril-test-secret"),
    ("AWS_REGION", "eu-west-3"),
];

/// Puts `file` at s3://bucket/key with boto3, as a user would upload an archive.
fn s3_upload(endpoint: &str, bucket: &str, key: &str, file: &Path) {
    let script = format!(
        "import boto3\n\
         s3 = boto3.client('s3', endpoint_url={endpoint:?})\n\
         s3.create_bucket(Bucket={bucket:?}, CreateBucketConfiguration={{'LocationConstraint': 'eu-west-3'}})\n\
         s3.upload_file({file:?}, {bucket:?}, {key:?})\n",
        file = file.to_str().unwrap()
    );
    let out = Command::new(python())
        .args(["-c", &script])
        .envs(S3_ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn export(out: &Path, maxzoom: u8) {
    let run = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["export", "--maxzoom", &maxzoom.to_string(), "--data"])
        .arg(root().join("geodata"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Every tile of the territory z0–`maxzoom`.
fn pyramid(bounds: [f64; 4], maxzoom: u8) -> Vec<(u8, u32, u32)> {
    let mut out = Vec::new();
    for z in 0..=maxzoom {
        let a = terril::mercator::TileCoord::containing(bounds[0], bounds[3], z);
        let b = terril::mercator::TileCoord::containing(bounds[2], bounds[1], z);
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                out.push((z, x, y));
            }
        }
    }
    out
}

async fn fetch(url: &str) -> (u16, Vec<u8>) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

/// `terril export` → .pmtiles and .mbtiles → `terril serve --archive` from a local path, an
/// http:// URL on nginx and an s3:// key on moto: TileJSON comes from the archive's metadata,
/// every tile z0–13 equals the live one, gzip passes through, ETags revalidate, tiles that
/// are not there are 204, and items say the archive has no features.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_from_a_file_nginx_and_s3_serve_the_live_tiles() {
    let maxzoom = 13;
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    export(&dir.path().join("artois.pmtiles"), maxzoom);
    export(&dir.path().join("artois-mb.mbtiles"), maxzoom);
    std::fs::copy(
        dir.path().join("artois.pmtiles"),
        web.join("artois-web.pmtiles"),
    )
    .unwrap();

    let (_nginx, nginx_port) = nginx_static(&web, dir.path());
    let (_moto, moto_port) = moto_s3();
    let endpoint = format!("http://127.0.0.1:{moto_port}");
    wait_for(&format!("http://127.0.0.1:{nginx_port}/")).await;
    wait_for(&endpoint).await;
    s3_upload(
        &endpoint,
        "tiles",
        "fr/artois-s3.pmtiles",
        &dir.path().join("artois.pmtiles"),
    );

    let archives = [
        dir.path()
            .join("artois.pmtiles")
            .to_str()
            .unwrap()
            .to_owned(),
        dir.path()
            .join("artois-mb.mbtiles")
            .to_str()
            .unwrap()
            .to_owned(),
        format!("http://127.0.0.1:{nginx_port}/artois-web.pmtiles"),
        "s3://tiles/fr/artois-s3.pmtiles".to_owned(),
    ];
    let data = root().join("geodata");
    let mut args = vec!["--bind", "127.0.0.1:0", "--cache-mb", "0", "--data"];
    args.push(data.to_str().unwrap());
    for a in &archives {
        args.extend(["--archive", a.as_str()]);
    }
    let (_server, base) = crate::support::spawn_binary_env(
        &args,
        &[
            S3_ENV[0],
            S3_ENV[1],
            S3_ENV[2],
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    )
    .await;
    let names = ["artois", "artois-mb", "artois-web", "artois-s3"];

    // /catalog lists them as archives; TileJSON is built from their metadata.
    let catalog: Value = get_json(&format!("{base}/catalog")).await;
    let live: Value = get_json(&format!("{base}/tiles.json")).await;
    let bounds: Vec<f64> = serde_json::from_value(live["bounds"].clone()).unwrap();
    for name in names {
        let entry = catalog["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == name)
            .unwrap_or_else(|| panic!("{name} in /catalog"));
        assert_eq!(entry["source"], "archive", "{entry}");
        assert_eq!(entry["queryable"], false);
        let tj: Value = get_json(&format!("{base}/tiles/{name}.json")).await;
        assert_eq!(tj["maxzoom"], maxzoom, "{name}: {tj}");
        assert_eq!(tj["minzoom"], 0);
        assert_eq!(
            tj["tiles"][0],
            format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt")
        );
        let ids = |doc: &Value| -> Vec<String> {
            doc["vector_layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&tj), ids(&live), "{name}");
        for (i, b) in bounds.iter().enumerate() {
            let got = tj["bounds"][i].as_f64().unwrap();
            assert!((got - b).abs() < 1e-6, "{name} bounds {tj}");
        }
    }

    // Every tile of the pyramid, from each archive, equals the live tile.
    let tiles = pyramid([bounds[0], bounds[1], bounds[2], bounds[3]], maxzoom);
    let mut with_content = 0;
    for &(z, x, y) in &tiles {
        let (status, want) = fetch(&format!("{base}/tiles/{z}/{x}/{y}.mvt")).await;
        if status == 200 {
            with_content += 1;
        }
        for name in names {
            let (got_status, got) = fetch(&format!("{base}/tiles/{name}/{z}/{x}/{y}.mvt")).await;
            assert_eq!(got_status, status, "{name} {z}/{x}/{y}");
            assert!(
                got == want,
                "{name} {z}/{x}/{y}: the archive's tile differs"
            );
        }
    }
    assert!(with_content > 100, "{with_content} tiles with content");

    // gzip as stored passes through; ETags revalidate; beyond maxzoom and outside: 204.
    let tile = "/tiles/artois-s3/10/519/345.mvt";
    let r = client()
        .get(format!("{base}{tile}"))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let gz = r.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let again = client()
        .get(format!("{base}{tile}"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // A client that takes only brotli gets the stored gzip tile recoded.
    let r = client()
        .get(format!("{base}{tile}"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(&r.bytes().await.unwrap()[..], 4096),
        &mut plain,
    )
    .unwrap();
    assert_eq!(
        plain,
        fetch(&format!("{base}/tiles/10/519/345.mvt")).await.1
    );
    for name in names {
        let (status, _) = fetch(&format!("{base}/tiles/{name}/{}/0/0.mvt", maxzoom + 1)).await;
        assert_eq!(status, 204, "{name} beyond its maxzoom");
        let (status, _) = fetch(&format!("{base}/tiles/{name}/8/0/0.mvt")).await;
        assert_eq!(status, 204, "{name} outside");
    }

    // No features: a clear 4xx for items, queries and filters; archives are not mixed.
    for path in [
        "/collections/artois/items".to_owned(),
        "/query/nearest?layer=artois-web&lon=2.8&lat=50.4".to_owned(),
        "/tiles/artois/10/519/345.mvt?filter=name='Lens'".to_owned(),
        "/tiles/artois,communes/10/519/345.mvt".to_owned(),
    ] {
        let r = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["description"].as_str().unwrap().contains("archive"),
            "{body}"
        );
    }

    // nginx was read with range requests, never whole.
    let log = std::fs::read_to_string(dir.path().join("access.log")).unwrap();
    let reads: Vec<&str> = log.lines().filter(|l| l.contains("artois-web")).collect();
    assert!(!reads.is_empty());
    assert!(
        reads
            .iter()
            .all(|l| l.contains("\"bytes=") && l.contains(" 206 ")),
        "{log}"
    );
}

/// A name taken twice is refused at startup with a clear message, and nothing is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_named_like_a_layer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("communes.pmtiles");
    export(&out, 6);
    let run = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data"])
        .arg(root().join("geodata"))
        .arg("--archive")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("\"communes\"") && err.contains("rename"),
        "{err}"
    );
}

/// `catalog.toml` names an archive with an id of its choice, relative to the catalog; `terril
/// check` lists it with the archive's zooms.
#[test]
fn a_catalog_entry_names_an_archive() {
    let dir = tempfile::tempdir().unwrap();
    export(&dir.path().join("territoire.mbtiles"), 7);
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[[layer]]\nid = \"bassin\"\narchive = \"territoire.mbtiles\"\nattribution = \"IGN\"\n",
    )
    .unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.contains("bassin") && out.contains("archive"), "{out}");
}
