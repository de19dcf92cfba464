//! PostGIS layers against in-memory ones: the default data loaded with `ogr2ogr` into a
//! PostgreSQL of the test's own, once in WGS84 (EPSG:4326) and once in Lambert-93
//! (EPSG:2154), must serve what the GeoJSON files serve — tiles z0–z14 over the territory,
//! items, CQL2 filters and spatial queries — and keep doing so through edits, outages,
//! timeouts and hostile filters.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use terril::data::DataFolder;
use terril::mercator::TileCoord;
use terril::source::Catalog;
use terril::source::postgis::Database;
use terril::{AppState, ServerOptions};

use crate::support::{Server, TempPostgres, client, python, root, start_state};

/// The layers of the default data.
const LAYERS: [&str; 7] = [
    "pole",
    "epci",
    "communes",
    "zones",
    "campuses",
    "infrastructure",
    "tourism",
];

/// The copies: layer-id prefix, schema, SRS.
const COPIES: [(&str, &str, &str); 2] =
    [("w_", "wgs84", "EPSG:4326"), ("l_", "lambert", "EPSG:2154")];

/// A cluster holding both copies of the default data.
fn loaded_postgres() -> TempPostgres {
    let pg = TempPostgres::start();
    for (_, schema, srs) in COPIES {
        for layer in LAYERS {
            pg.load(
                &root().join(format!("geodata/{layer}.geojson")),
                schema,
                layer,
                srs,
            );
        }
    }
    pg
}

/// A data folder whose catalog serves the default layers from their files and, after them,
/// each again from both copies in the database (`w_communes`, `l_communes`, …), with the
/// same settings.
fn mixed_catalog(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    let text = std::fs::read_to_string(root().join("geodata/catalog.toml")).expect("catalog");
    let catalog: toml::Table = text.parse().expect("toml");
    let layers = catalog["layer"].as_array().expect("layers").clone();
    let mut all = layers.clone();
    for (prefix, schema, _) in COPIES {
        for layer in &layers {
            let mut copy = layer.as_table().expect("a table").clone();
            let id = copy["id"].as_str().expect("an id").to_owned();
            copy.remove("file");
            copy.insert("id".into(), format!("{prefix}{id}").into());
            copy.insert("schema".into(), schema.into());
            copy.insert("table".into(), id.clone().into());
            copy.insert("id_column".into(), "id".into());
            all.push(toml::Value::Table(copy));
        }
    }
    for layer in LAYERS {
        std::fs::copy(
            root().join(format!("geodata/{layer}.geojson")),
            dir.path().join(format!("{layer}.geojson")),
        )
        .expect("copy");
    }
    let mut out = toml::Table::new();
    out.insert("layer".into(), toml::Value::Array(all));
    let mut postgis = toml::Table::new();
    postgis.insert("discover".into(), false.into());
    out.insert("postgis".into(), toml::Value::Table(postgis));
    std::fs::write(
        dir.path().join("catalog.toml"),
        format!("{}\n{extra}", toml::to_string(&out).expect("toml")),
    )
    .expect("write catalog");
    dir
}

/// Connects and serves a data folder with database `url`.
async fn serve(
    dir: &Path,
    url: &str,
    pool: usize,
    options: ServerOptions,
) -> (Server, Arc<Database>) {
    let db = Database::connect(url, options.request_timeout, pool)
        .await
        .expect("the database answers");
    let folder = DataFolder::Dir(dir.to_path_buf());
    let catalog = Catalog::load(&folder, Some(&db))
        .await
        .unwrap_or_else(|e| panic!("the catalog loads: {e}"));
    let server = start_state(AppState::with_folder(catalog, folder, 0, options)).await;
    (server, db)
}

async fn json(server: &Server, path: &str) -> Value {
    let resp = server.get(path).await;
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// The tiles z0–z14 over the territory's bounds.
fn territory_tiles(bounds: [f64; 4]) -> Vec<TileCoord> {
    let mut tiles = Vec::new();
    for z in 0..=14u8 {
        let nw = TileCoord::containing(bounds[0], bounds[3], z);
        let se = TileCoord::containing(bounds[2], bounds[1], z);
        for x in nw.x..=se.x {
            for y in nw.y..=se.y {
                tiles.push(TileCoord::new(u32::from(z), u64::from(x), u64::from(y)).unwrap());
            }
        }
    }
    tiles
}

/// Properties as JSON with the nulls left out (a file leaves a property out where a table
/// has NULL) and the table's own key column `fid`; numbers compared as numbers (`1009.0` in
/// a file is `1009` from PostgreSQL).
fn props(feature: &Value) -> serde_json::Map<String, Value> {
    feature["properties"]
        .as_object()
        .expect("properties")
        .iter()
        .filter(|(k, v)| !v.is_null() && k.as_str() != "fid")
        .map(|(k, v)| {
            let v = match v.as_f64() {
                Some(n) => json!(n),
                None => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Every position of a GeoJSON geometry.
fn positions(geometry: &Value, out: &mut Vec<[f64; 2]>) {
    match geometry {
        Value::Array(a) if a.len() >= 2 && a[0].is_number() => {
            out.push([a[0].as_f64().unwrap(), a[1].as_f64().unwrap()]);
        }
        Value::Array(a) => a.iter().for_each(|v| positions(v, out)),
        Value::Object(o) => {
            if let Some(c) = o.get("coordinates") {
                positions(c, out);
            }
            if let Some(Value::Array(gs)) = o.get("geometries") {
                gs.iter().for_each(|g| positions(g, out));
            }
        }
        _ => {}
    }
}

/// The ids of a feature collection, in order.
fn ids(collection: &Value) -> Vec<String> {
    collection["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            f["id"]
                .as_str()
                .map_or_else(|| f["id"].to_string(), str::to_owned)
        })
        .collect()
}

/// Tiles, items, filters and queries of both database copies are those of the files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgis_layers_serve_what_the_files_serve() {
    let pg = loaded_postgres();
    let dir = mixed_catalog("");
    let (server, _db) = serve(dir.path(), &pg.url("terril"), 8, ServerOptions::default()).await;

    // The catalog lists the Lambert-93 tables with their SRID, bounds in lon/lat.
    let catalog = json(&server, "/catalog").await;
    let entry = catalog["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "l_communes")
        .unwrap_or_else(|| panic!("l_communes in {catalog}"))
        .clone();
    let memory_entry = catalog["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "communes")
        .unwrap()
        .clone();
    for (a, b) in entry["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .zip(memory_entry["bounds"].as_array().unwrap())
    {
        assert!(
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6,
            "{entry}"
        );
    }
    assert_eq!(entry["count"], 115, "{entry}");
    let tilejson = json(&server, "/tiles/l_communes.json").await;
    let fields = &tilejson["vector_layers"][0]["fields"];
    assert_eq!(fields["population"], "Number", "{tilejson}");
    assert_eq!(fields["name"], "String", "{tilejson}");

    // Tiles z0–z14: every layer and label layer of both copies decodes to the features of
    // the file's layer.
    let bounds = [2.35, 50.33, 3.13, 50.66];
    let tiles = territory_tiles(bounds);
    assert!(tiles.len() > 1_000, "{} tiles", tiles.len());
    let folder = tempfile::tempdir().expect("a folder");
    let fetched: Vec<(TileCoord, Vec<u8>)> = futures_util::stream::iter(tiles)
        .map(|t| {
            let server = &server;
            async move {
                let path = format!("/tiles/{}/{}/{}.mvt", t.z, t.x, t.y);
                let resp = server.get(&path).await;
                let status = resp.status().as_u16();
                assert!(status == 200 || status == 204, "{path}: {status}");
                (t, resp.bytes().await.expect("body").to_vec())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut written = 0;
    for (t, bytes) in &fetched {
        if !bytes.is_empty() {
            std::fs::write(
                folder.path().join(format!("{}-{}-{}.mvt", t.z, t.x, t.y)),
                bytes,
            )
            .expect("write tile");
            written += 1;
        }
    }
    assert!(written > 500, "{written} tiles with features");
    let mut pairs = Vec::new();
    for layer in LAYERS {
        for (prefix, _, _) in COPIES {
            pairs.push(format!("{layer}={prefix}{layer}"));
            if matches!(layer, "pole" | "epci" | "communes") {
                pairs.push(format!("{layer}_labels={prefix}{layer}_labels"));
            }
        }
    }
    let out = std::process::Command::new(python())
        .arg(root().join("tests/tools/mvt_parity.py"))
        .arg(folder.path())
        .args(&pairs)
        .output()
        .expect("python3 runs (see .ci/run)");
    assert!(
        out.status.success(),
        "the parity check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for pair in &pairs {
        let s = &report[pair];
        assert!(s["features"].as_u64().unwrap() > 0, "{pair}: {s}");
        assert_eq!(s["id_mismatches"], json!([]), "{pair}: {s}");
        assert_eq!(s["property_mismatches"], json!([]), "{pair}: {s}");
        assert!(s["worst_iou"].as_f64().unwrap() >= 0.99, "{pair}: {s}");
        // Points and lines land on the same tile units (Lambert-93 round trips may move a
        // vertex by one unit where it sits on a rounding edge).
        assert!(s["worst_distance"].as_f64().unwrap() <= 1.5, "{pair}: {s}");
    }

    // Items: the same features, properties and positions (to 1e-7° after Lambert-93 and
    // back), in the same order, page after page.
    for layer in LAYERS {
        let reference = json(&server, &format!("/collections/{layer}/items?limit=7")).await;
        for (prefix, _, _) in COPIES {
            let mut offset = 0;
            loop {
                let path = format!("/collections/{prefix}{layer}/items?limit=7&offset={offset}");
                let page = json(&server, &path).await;
                let want = json(
                    &server,
                    &format!("/collections/{layer}/items?limit=7&offset={offset}"),
                )
                .await;
                assert_eq!(page["numberMatched"], reference["numberMatched"], "{path}");
                assert_eq!(ids(&page), ids(&want), "{path}");
                for (a, b) in page["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(want["features"].as_array().unwrap())
                {
                    assert_eq!(props(a), props(b), "{path}");
                    let (mut pa, mut pb) = (Vec::new(), Vec::new());
                    positions(&a["geometry"], &mut pa);
                    positions(&b["geometry"], &mut pb);
                    assert_eq!(pa.len(), pb.len(), "{path} {}", a["id"]);
                    for (p, q) in pa.iter().zip(&pb) {
                        assert!(
                            (p[0] - q[0]).abs() < 1e-7 && (p[1] - q[1]).abs() < 1e-7,
                            "{path} {}: {p:?} vs {q:?}",
                            a["id"]
                        );
                    }
                }
                offset += 7;
                if offset >= reference["numberMatched"].as_u64().unwrap() as usize {
                    break;
                }
            }
        }
    }

    // CQL2 filters, text and JSON: the same ids.
    let filters: &[(&str, &str)] = &[
        ("communes", "population > 10000"),
        ("communes", "epci = 'CALL' AND density < 500"),
        ("communes", "name LIKE 'L%' OR name LIKE '%-en-%'"),
        ("communes", "NOT (population BETWEEN 2000 AND 20000)"),
        ("communes", "CASEI(name) = casei('LIÉVIN')"),
        ("communes", "ACCENTI(name) = accenti('Lievin')"),
        ("communes", "insee IN ('62498', '62510', '62119')"),
        (
            "communes",
            "S_INTERSECTS(geom, POLYGON((2.75 50.40, 2.90 50.40, 2.90 50.48, 2.75 50.48, 2.75 50.40)))",
        ),
        ("communes", "S_CONTAINS(geom, POINT(2.8270 50.4277))"),
        (
            "communes",
            "S_WITHIN(geom, POLYGON((2.6 50.3, 3.2 50.3, 3.2 50.7, 2.6 50.7, 2.6 50.3)))",
        ),
        ("tourism", "theme = 'CULTURE' OR theme = 'NATURE'"),
        ("tourism", "approximate = false AND kind <> 'museum'"),
        ("zones", "area_ha >= 100 OR opened_year < 2000"),
        (
            "infrastructure",
            "S_INTERSECTS(geom, LINESTRING(2.70 50.40, 2.95 50.50)) AND kind LIKE 'motorway%'",
        ),
        (
            "infrastructure",
            "S_DISJOINT(geom, POLYGON((2.75 50.40, 2.90 50.40, 2.90 50.48, 2.75 50.48, 2.75 50.40)))",
        ),
        ("epci", "communes > 20"),
    ];
    let mut matched = 0;
    for (layer, filter) in filters {
        let encoded: String =
            percent_encoding::utf8_percent_encode(filter, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let reference = json(
            &server,
            &format!("/collections/{layer}/items?limit=1000&filter={encoded}"),
        )
        .await;
        let want = ids(&reference);
        matched += usize::from(!want.is_empty());
        for (prefix, _, _) in COPIES {
            let path = format!("/collections/{prefix}{layer}/items?limit=1000&filter={encoded}");
            assert_eq!(
                ids(&json(&server, &path).await),
                want,
                "{filter} on {prefix}{layer}"
            );
        }
    }
    assert!(
        matched >= filters.len() - 2,
        "{matched} filters match something"
    );
    let as_json = json!({"op": "and", "args": [
        {"op": ">", "args": [{"property": "population"}, 5000]},
        {"op": "s_intersects", "args": [{"property": "geom"},
            {"type": "Polygon", "coordinates": [[[2.7, 50.35], [3.0, 50.35], [3.0, 50.55], [2.7, 50.55], [2.7, 50.35]]]}]}
    ]})
    .to_string();
    let body_of = |layer: &str| {
        client()
            .get(server.url(&format!("/collections/{layer}/items")))
            .query(&[
                ("limit", "1000"),
                ("filter-lang", "cql2-json"),
                ("filter", as_json.as_str()),
            ])
            .send()
    };
    let want: Value = body_of("communes").await.unwrap().json().await.unwrap();
    assert!(!ids(&want).is_empty());
    for (prefix, _, _) in COPIES {
        let got: Value = body_of(&format!("{prefix}communes"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ids(&got), ids(&want), "cql2-json on {prefix}communes");
    }

    // Spatial queries: the same ids, distances within 0.1 %.
    let queries = [
        "/query/within?layer={}&lon=2.8270&lat=50.4277&radius_m=3000".to_owned(),
        "/query/within?layer={}&lon=2.64&lat=50.52&radius_m=5000".to_owned(),
        "/query/nearest?layer={}&lon=2.80&lat=50.45&k=5".to_owned(),
        "/query/nearest?layer={}&lon=2.95&lat=50.40&k=3&max_distance_m=8000".to_owned(),
    ];
    for layer in ["communes", "tourism", "infrastructure", "zones"] {
        for q in &queries {
            let reference = json(&server, &q.replace("{}", layer)).await;
            for (prefix, _, _) in COPIES {
                let path = q.replace("{}", &format!("{prefix}{layer}"));
                let got = json(&server, &path).await;
                compare_distances(&got, &reference, &path);
            }
        }
    }
    for (prefix, _, _) in COPIES {
        let path = format!(
            "/query/near?layer={prefix}zones&target={prefix}infrastructure&target_filter=kind='motorway_junction'&distance_m=2000"
        );
        let got = json(&server, &path).await;
        let reference = json(
            &server,
            "/query/near?layer=zones&target=infrastructure&target_filter=kind='motorway_junction'&distance_m=2000",
        )
        .await;
        compare_distances(&got, &reference, &path);
        assert!(!ids(&got).is_empty(), "{path}");
        let at = json(
            &server,
            &format!("/query/at?lon=2.8270&lat=50.4277&layers={prefix}communes,{prefix}epci"),
        )
        .await;
        let at_memory = json(
            &server,
            "/query/at?lon=2.8270&lat=50.4277&layers=communes,epci",
        )
        .await;
        assert_eq!(ids(&at), ids(&at_memory), "/query/at on {prefix}");
        assert_eq!(ids(&at), ["62498", "CALL"], "{at}");
    }
}

/// The same ids in the same order, each distance within 0.1 % (or 1 m).
fn compare_distances(got: &Value, want: &Value, path: &str) {
    assert_eq!(ids(got), ids(want), "{path}");
    for (a, b) in got["features"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["features"].as_array().unwrap())
    {
        let (da, db) = (
            a["properties"]["distance_m"].as_f64().unwrap(),
            b["properties"]["distance_m"].as_f64().unwrap(),
        );
        assert!(
            (da - db).abs() <= 1.0 || (da - db).abs() / db <= 0.001,
            "{path} {}: {da} m vs {db} m",
            a["id"]
        );
    }
}

/// An edit made in the database (`psql`, as QGIS would) reaches tiles and items within
/// seconds, with new ETags; no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_in_the_database_show_within_seconds() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "lambert",
        "communes",
        "EPSG:2154",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[[layer]]\nid = \"communes\"\nschema = \"lambert\"\ntable = \"communes\"\nid_column = \"id\"\nlabel = \"name\"\n",
    )
    .unwrap();
    let options = ServerOptions {
        request_timeout: Duration::from_secs(10),
        ..ServerOptions::default()
    };
    let (server, _db) = serve(dir.path(), &pg.url("terril"), 4, options).await;
    let tile = "/tiles/communes/12/2080/1381.mvt";
    let before = server.get(tile).await;
    assert_eq!(before.status(), 200);
    let etag = before.headers()["etag"].to_str().unwrap().to_owned();
    let item = json(&server, "/collections/communes/items/62498").await;
    assert_eq!(item["properties"]["name"], "Lens");

    pg.psql(
        "terril",
        "UPDATE lambert.communes SET name = 'Lens (edited)', population = population + 1 WHERE id = '62498'",
    );
    let edited = Instant::now();
    loop {
        let item = json(&server, "/collections/communes/items/62498").await;
        let resp = server.get(tile).await;
        let new_etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        if item["properties"]["name"] == "Lens (edited)" && new_etag != etag {
            let decoded = crate::support::decode_mvt(&resp.bytes().await.unwrap());
            let lens = crate::support::feature(&decoded, "communes", "62498");
            assert_eq!(lens["properties"]["name"], "Lens (edited)", "{lens}");
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(10),
            "the edit did not show within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        edited.elapsed() < Duration::from_secs(5),
        "{:?}",
        edited.elapsed()
    );

    // A new row shows too, in items with a filter and in a query.
    pg.psql(
        "terril",
        "INSERT INTO lambert.communes (id, insee, name, population, geom) \
         SELECT 'new', 'new', 'Nouvelle commune', 1, ST_Buffer(ST_Centroid(geom), 100) FROM lambert.communes WHERE id = '62498'",
    );
    let inserted = Instant::now();
    loop {
        let found = json(
            &server,
            "/collections/communes/items?filter=name%3D%27Nouvelle%20commune%27",
        )
        .await;
        if ids(&found) == ["new"] {
            break;
        }
        assert!(inserted.elapsed() < Duration::from_secs(10), "{found}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// PostgreSQL stopped under load: PostGIS layers answer 503 JSON with `Retry-After`, memory
/// layers keep serving, `/health` says degraded; started again: everything answers, with no
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_costs_no_restart() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "lambert",
        "communes",
        "EPSG:2154",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("geodata/tourism.geojson"),
        dir.path().join("tourism.geojson"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[[layer]]\nid = \"tourism\"\n\n[[layer]]\nid = \"communes\"\nschema = \"lambert\"\ntable = \"communes\"\nid_column = \"id\"\n",
    )
    .unwrap();
    let options = ServerOptions {
        request_timeout: Duration::from_secs(10),
        ..ServerOptions::default()
    };
    let (server, _db) = serve(dir.path(), &pg.url("terril"), 4, options).await;
    let server = Arc::new(server);
    assert_eq!(json(&server, "/health").await["status"], "ok");

    // Load on both kinds of layer while the database goes away.
    let load = {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let mut codes = Vec::new();
            let started = Instant::now();
            let mut n = 0u32;
            while started.elapsed() < Duration::from_secs(6) {
                n += 1;
                let path = format!("/tiles/communes/11/{}/{}.mvt", 1038 + n % 6, 689 + n % 4);
                let t = Instant::now();
                let resp = server.get(&path).await;
                codes.push((resp.status().as_u16(), t.elapsed()));
            }
            codes
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    pg.stop();
    let down = Instant::now();
    let resp = server.get("/collections/communes/items?limit=2").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["description"].as_str().is_some(), "{body}");
    let resp = server.get("/tiles/communes/12/2080/1381.mvt").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        server
            .get("/collections/tourism/items?limit=2")
            .await
            .status(),
        200
    );
    assert_eq!(
        server
            .get("/tiles/tourism/12/2080/1381.mvt")
            .await
            .status()
            .as_u16()
            / 100,
        2
    );
    let health = json(&server, "/health").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        down.elapsed() < Duration::from_secs(8),
        "{:?}",
        down.elapsed()
    );
    let codes = load.await.unwrap();
    let count = |c: u16| codes.iter().filter(|(code, _)| *code == c).count();
    let slowest = codes.iter().map(|(_, t)| *t).max().unwrap_or_default();
    let summary = format!(
        "{} requests: {} × 200, {} × 204, {} × 503, slowest {slowest:?}",
        codes.len(),
        count(200),
        count(204),
        count(503)
    );
    assert!(count(200) > 0 && count(503) > 0, "{summary}");
    assert_eq!(
        count(200) + count(204) + count(503),
        codes.len(),
        "{summary}"
    );
    assert!(
        slowest < Duration::from_secs(7),
        "a request hung: {summary}"
    );

    pg.start_again();
    let up = Instant::now();
    loop {
        let resp = server.get("/collections/communes/items?limit=2").await;
        if resp.status() == 200 {
            break;
        }
        assert!(up.elapsed() < Duration::from_secs(15), "no recovery");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        server
            .get("/tiles/communes/12/2080/1381.mvt")
            .await
            .status(),
        200
    );
    let health = json(&server, "/health").await;
    assert_eq!(health["status"], "ok", "{health}");
}

/// A statement that outlives the request's deadline is cancelled in PostgreSQL (gone from
/// `pg_stat_activity`); a request whose client goes away cancels its statement too; with
/// every connection busy, a request gets 503 rather than waiting forever; filters full of
/// quotes, comments and semicolons reach PostgreSQL only as parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_statements_are_cancelled_and_filters_are_parameters() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "public",
        "communes",
        "EPSG:2154",
    );
    pg.psql(
        "terril",
        "CREATE VIEW slow AS SELECT fid, id, name, geom FROM communes",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "[postgis]\ndiscover = false\n\n[[layer]]\nid = \"communes\"\ntable = \"communes\"\nid_column = \"id\"\n\n\
         [[layer]]\nid = \"slow\"\ntable = \"slow\"\nid_column = \"id\"\ngeometry_column = \"geom\"\n",
    )
    .unwrap();
    let options = ServerOptions {
        request_timeout: Duration::from_secs(3),
        ..ServerOptions::default()
    };
    let (server, _db) = serve(dir.path(), &pg.url("terril"), 2, options).await;
    // Now the view's rows take 0.2 s each to read.
    pg.psql(
        "terril",
        "CREATE FUNCTION slowly(n text) RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT n FROM (SELECT pg_sleep(0.2)) s $$; \
         CREATE OR REPLACE VIEW slow AS SELECT fid, id, slowly(name)::varchar AS name, geom FROM communes",
    );
    let active = || {
        pg.psql(
            "terril",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'terril' AND state = 'active' AND query LIKE '%slow%'",
        )
    };

    // The deadline: 503 after about 3 s, and the statement is gone.
    let t = Instant::now();
    let resp = server.get("/collections/slow/items?limit=100").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let gone = Instant::now();
    while active() != "0" {
        assert!(
            gone.elapsed() < Duration::from_secs(3),
            "the statement still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A client that goes away.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(500),
        server.get("/collections/slow/items?limit=100"),
    )
    .await;
    assert!(abandoned.is_err(), "the slow request answered");
    let gone = Instant::now();
    while active() != "0" {
        assert!(
            gone.elapsed() < Duration::from_secs(3),
            "the abandoned statement still runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Both connections busy for 3 s: a third request is refused (503) after waiting
    // `POOL_WAIT` (2 s) for one, not left waiting.
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let url = server.url("/collections/slow/items?limit=100");
            tokio::spawn(async move { client().get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let resp = server.get("/collections/communes/items?limit=1").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        t.elapsed() < Duration::from_millis(2_600),
        "{:?}",
        t.elapsed()
    );
    for b in busy {
        assert_eq!(b.await.unwrap().unwrap(), 503);
    }

    // Hostile filters: answered as values (no match, or a 400), the table intact.
    let hostile = [
        "name = 'x'' OR ''1''=''1'",
        "name = 'Lens''; DROP TABLE communes; --'",
        "name = '/* comment */ Lens'",
        "name LIKE '%'' UNION SELECT 1 --%'",
        "name = 'Liévin' OR name = 'Ñandú \u{202e}; --'",
        "insee IN ('62498', '''); DELETE FROM communes; --')",
    ];
    for filter in hostile {
        let resp = client()
            .get(server.url("/collections/communes/items"))
            .query(&[("filter", filter), ("limit", "200")])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert!(status == 200 || status == 400, "{filter}: {status} {body}");
        if status == 200 {
            let found = ids(&body);
            assert!(found.len() <= 1, "{filter}: {found:?}");
        }
    }
    assert_eq!(pg.psql("terril", "SELECT count(*) FROM communes"), "115");
    let lievin = json(
        &server,
        "/collections/communes/items?filter=name%20%3D%20%27Li%C3%A9vin%27%20OR%20name%20%3D%20%27x%27%27%3B%20--%27",
    )
    .await;
    assert_eq!(ids(&lievin), ["62510"]);
}

/// As a new user would: `terril serve --pg-url …` against a database holding a Lambert-93
/// table shows it in `/catalog`, in TileJSON, in items with a CQL2 filter and in
/// `/query/within`; a database that does not answer stops the server with a clear message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_database_url() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "public",
        "communes_l93",
        "EPSG:2154",
    );
    let url = pg.url("terril");
    let data = root().join("geodata");
    let (_child, base) = crate::support::spawn_binary(&[
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
        "--pg-url",
        &url,
    ])
    .await;
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let resp = client().get(url).send().await.expect("answer");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, catalog) = get("/catalog").await;
    assert_eq!(status, 200);
    let layer = catalog["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "communes_l93")
        .unwrap_or_else(|| panic!("the table is discovered: {catalog}"))
        .clone();
    assert_eq!(layer["count"], 115, "{layer}");
    let (status, tilejson) = get("/tiles/communes,communes_l93.json").await;
    assert_eq!(status, 200, "{tilejson}");
    let names: Vec<&str> = tilejson["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"communes_l93"), "{names:?}");
    let (status, items) =
        get("/collections/communes_l93/items?filter=population%20%3E%2020000&limit=100").await;
    assert_eq!(status, 200, "{items}");
    let mut big: Vec<String> = items["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap().to_owned())
        .collect();
    big.sort();
    assert!(
        big.contains(&"Lens".to_owned()) && big.contains(&"Liévin".to_owned()),
        "{big:?}"
    );
    let (status, near) =
        get("/query/within?layer=communes_l93&lon=2.8270&lat=50.4277&radius_m=1000").await;
    assert_eq!(status, 200, "{near}");
    assert_eq!(near["features"][0]["properties"]["name"], "Lens", "{near}");
    assert_eq!(
        near["features"][0]["properties"]["distance_m"], 0.0,
        "{near}"
    );

    // A database that does not answer at start: a clear message and a non-zero exit.
    pg.stop();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data", data.to_str().unwrap(), "--pg-url", &url])
        .output()
        .await
        .expect("terril runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach PostgreSQL"), "{stderr}");
}

/// Where a PostGIS layer is generalized, the database draws the tile: at most
/// `max_features` features, the largest first, with their labels; from `full_from` on,
/// Terril draws the rows and the tile is the one the file gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generalized_zooms_are_drawn_by_the_database() {
    let pg = TempPostgres::start();
    pg.load(
        &root().join("geodata/communes.geojson"),
        "public",
        "communes",
        "EPSG:2154",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("geodata/communes.geojson"),
        dir.path().join("file.geojson"),
    )
    .unwrap();
    let generalize = "[layer.generalize]\nfull_from = 11\nmax_features = 40\n";
    std::fs::write(
        dir.path().join("catalog.toml"),
        format!(
            "[postgis]\ndiscover = false\n\n\
             [[layer]]\nid = \"file\"\nlabel = \"name\"\n{generalize}\n\
             [[layer]]\nid = \"db\"\ntable = \"communes\"\nid_column = \"id\"\nlabel = \"name\"\n{generalize}"
        ),
    )
    .unwrap();
    let (server, _db) = serve(dir.path(), &pg.url("terril"), 4, ServerOptions::default()).await;
    let decoded = crate::support::decode_mvt(
        &crate::support::tile_bytes(&server, "/tiles/9/259/172.mvt").await,
    );
    let names = |layer: &str| -> Vec<String> {
        decoded[layer]["features"]
            .as_array()
            .unwrap_or_else(|| panic!("{layer} in the tile"))
            .iter()
            .map(|f| f["properties"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (file, db) = (names("file"), names("db"));
    // At most 40 (a few of the largest may lie in the buffer only, and be clipped away).
    assert!((35..=40).contains(&file.len()), "{file:?}");
    assert!((35..=40).contains(&db.len()), "{db:?}");
    // Largest by area (file) and by box (database) mostly agree.
    let shared = db.iter().filter(|n| file.contains(n)).count();
    assert!(shared >= 30, "{shared} shared: {file:?} / {db:?}");
    assert!(names("db_labels").len() >= 30);
    for f in decoded["db"]["features"].as_array().unwrap() {
        assert!(f["id"].as_u64().is_some(), "numeric INSEE ids: {f}");
    }
    // From full_from on, the rows are drawn here: the same features as the file's.
    let full = crate::support::decode_mvt(
        &crate::support::tile_bytes(&server, "/tiles/11/1038/689.mvt").await,
    );
    let ids = |layer: &str| -> Vec<u64> {
        let mut ids: Vec<u64> = full[layer]["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    assert!(!ids("file").is_empty());
    assert_eq!(ids("db"), ids("file"));
}
