//! The OGC standards as clients read them: the OpenAPI document against the router, OGC API –
//! Tiles, content negotiation on the landing page, overzoomed tiles, and the CQL2 standard's
//! own Annex A predicates on its Natural Earth test data.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::support::{decode_mvt, python, root, start_fixtures, tile_bytes};

/// Route paths as `src/http/mod.rs` declares them, with every `{name}` written `{}`.
fn router_paths() -> BTreeSet<String> {
    let source = std::fs::read_to_string(root().join("src/http/mod.rs")).unwrap();
    let mut out = BTreeSet::new();
    let mut rest = source.as_str();
    while let Some(start) = rest.find(".route(") {
        rest = &rest[start + ".route(".len()..];
        let open = rest.find('"').unwrap();
        let close = open + 1 + rest[open + 1..].find('"').unwrap();
        out.insert(normalize(&rest[open + 1..close]));
    }
    out
}

/// `{anything}` (with an optional `.json` after it, as TileJSON paths are documented) as `{}`.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' {
            for d in chars.by_ref() {
                if d == '}' {
                    break;
                }
            }
            out.push_str("{}");
        } else {
            out.push(c);
        }
    }
    out.replace("{}.json", "{}")
}

/// A value for each path parameter the fixtures answer.
fn sample(name: &str) -> &'static str {
    match name {
        "collectionId" | "layers" => "squares",
        "featureId" => "west",
        "z" | "x" | "tileMatrix" | "tileRow" | "tileCol" => "0",
        "y" => "0.mvt",
        "tileMatrixSetId" => "WebMercatorQuad",
        "fontstack" => "Noto Sans Regular",
        "range" => "0-255.pbf",
        "file" => "terril.json",
        other => panic!("no sample value for path parameter {other}"),
    }
}

/// Every route is in the OpenAPI document, and every route that reads its query string
/// documents exactly the parameters it accepts (its 400 for an unknown one lists them).
#[tokio::test]
async fn openapi_documents_every_route_and_parameter() {
    let server = start_fixtures().await;
    let doc: Value = server.get("/api").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().map(|p| normalize(p)).collect();
    let missing: Vec<String> = router_paths()
        .into_iter()
        .filter(|p| !documented.contains(p))
        .collect();
    assert!(missing.is_empty(), "routes missing from /api: {missing:?}");

    let components = &doc["components"]["parameters"];
    let resolve = |p: &Value| -> Value {
        match p["$ref"].as_str() {
            Some(r) => components[r.rsplit('/').next().unwrap()].clone(),
            None => p.clone(),
        }
    };
    for (path, item) in paths {
        let params: Vec<Value> = item["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(resolve)
            .collect();
        let mut concrete = path.clone();
        for p in params.iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap();
            concrete = concrete.replace(&format!("{{{name}}}"), sample(name));
        }
        if concrete.contains("{layers}.json") {
            concrete = concrete.replace("{layers}", "squares");
        }
        let query: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let resp = server
            .client_get(&format!("{concrete}?zz_unknown=1"), "application/json")
            .await;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        if status == 400 && body.contains("unknown parameter") {
            let listed = body
                .split("this route takes: ")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let accepted: BTreeSet<String> = listed.split(", ").map(str::to_owned).collect();
            assert_eq!(accepted, query, "query parameters of {path}");
        } else {
            assert!(
                query.is_empty(),
                "{path} documents {query:?} but ignores its query string ({status})"
            );
        }
    }
}

/// OGC API – Tiles: the lists, the tileset with its layers and template, the tile matrix set,
/// and tiles equal to the XYZ ones; linked from the landing page, conformance and collections.
#[tokio::test]
async fn ogc_api_tiles_serves_the_same_tiles() {
    let server = start_fixtures().await;
    let json = |path: &'static str| {
        let server = &server;
        async move {
            let r = server.get(path).await;
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.unwrap()
        }
    };
    let landing = json("/?f=json").await;
    let rels: Vec<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(rels.contains(&"http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"));
    let conformance = json("/conformance").await.to_string();
    assert!(conformance.contains("ogcapi-tiles-1/1.0/conf/core"));
    assert!(conformance.contains("ogcapi-tiles-1/1.0/conf/mvt"));

    let list = json("/tiles").await;
    let tileset_href = list["tilesets"][0]["links"][0]["href"].as_str().unwrap();
    assert!(tileset_href.ends_with("/tiles/WebMercatorQuad"));
    assert_eq!(
        list["tilesets"][0]["tileMatrixSetURI"],
        "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    );
    let tileset = json("/tiles/WebMercatorQuad").await;
    let layers: Vec<&str> = tileset["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["squares", "roads", "sites"]);
    assert_eq!(tileset["layers"][0]["geometryDimension"], 2);
    assert_eq!(tileset["layers"][1]["geometryDimension"], 1);
    assert_eq!(
        tileset["layers"][0]["propertiesSchema"]["properties"]["rank"]["type"],
        "integer"
    );
    let template = tileset["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "item")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(template.ends_with("/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}"));

    // Row is y, column is x: tile 8/128/127 of the XYZ routes.
    let ogc = template
        .trim_start_matches(&server.base)
        .replace("{tileMatrix}", "8")
        .replace("{tileRow}", "127")
        .replace("{tileCol}", "128");
    assert_eq!(
        tile_bytes(&server, &ogc).await,
        tile_bytes(&server, "/tiles/8/128/127.mvt").await
    );
    assert_eq!(
        tile_bytes(
            &server,
            "/collections/squares/tiles/WebMercatorQuad/8/127/128?f=mvt"
        )
        .await,
        tile_bytes(&server, "/tiles/squares/8/128/127.mvt").await
    );
    let collection = json("/collections/squares").await.to_string();
    assert!(collection.contains("/collections/squares/tiles"));
    let one = json("/collections/squares/tiles/WebMercatorQuad").await;
    assert_eq!(one["layers"][0]["id"], "squares");

    // The tile matrix set, checked against the published WebMercatorQuad values.
    let tms = json("/tileMatrixSets/WebMercatorQuad").await;
    let z0 = &tms["tileMatrices"][0];
    assert!((z0["cellSize"].as_f64().unwrap() - 156_543.033_928_041).abs() < 1e-6);
    assert!((z0["scaleDenominator"].as_f64().unwrap() - 559_082_264.028_717_9).abs() < 1e-3);
    assert!((z0["pointOfOrigin"][0].as_f64().unwrap() + 20_037_508.342_789_2).abs() < 1e-6);
    assert_eq!(tms["tileMatrices"][24]["matrixWidth"], 1u64 << 24);
    assert_eq!(
        json("/tileMatrixSets").await["tileMatrixSets"][0]["id"],
        "WebMercatorQuad"
    );

    for (path, status) in [
        ("/tileMatrixSets/WorldCRS84Quad", 404),
        ("/collections/squares/tiles/WorldCRS84Quad/0/0/0", 404),
        ("/collections/nope/tiles", 404),
        ("/tiles/WebMercatorQuad/25/0/0", 400),
        ("/tiles/WebMercatorQuad/1/2/0", 400),
        ("/tiles/WebMercatorQuad/0/0/0?f=png", 400),
    ] {
        let r = server.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["code"].is_string(), "{path}: JSON error");
    }
}

/// Current clients read every layer with their defaults: GDAL 3.12 (in the `pyogrio` wheel)
/// through OAPIF, in EPSG:2154 within 1 cm of PROJ, and through OGC API – Tiles; OWSLib; and
/// Debian's GDAL 3.6 through OAPIF.
#[tokio::test]
async fn current_gdal_owslib_and_debian_gdal_read_every_layer() {
    let server = crate::support::start_with(&root().join("geodata"), 16, Default::default()).await;
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        let clients = Command::new(python())
            .arg(root().join("tests/tools/ogc_clients.py"))
            .arg(&base)
            .output()
            .expect("python3 with pyogrio and OWSLib (tests/requirements.txt)");
        let debian = Command::new("ogrinfo")
            .args(["-ro", "-so", &format!("OAPIF:{base}"), "communes"])
            .output()
            .expect("ogrinfo (Debian gdal-bin; see .ci/run)");
        (clients, debian)
    })
    .await
    .unwrap();
    let (clients, debian) = out;
    let stdout = String::from_utf8_lossy(&clients.stdout);
    assert!(
        clients.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&clients.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(summary["gdal"].as_str().unwrap() >= "3.12", "{summary}");
    assert_eq!(summary["oapif_counts"]["communes"], 115);
    assert_eq!(summary["owslib"]["communes"], 115);
    assert!(summary["epsg2154_worst_m"].as_f64().unwrap() < 0.01);
    assert_eq!(summary["ogcapi_tiles"]["communes"], 115);

    let info = String::from_utf8_lossy(&debian.stdout);
    assert!(debian.status.success(), "{info}");
    assert!(info.contains("Feature Count: 115"), "{info}");
}

/// `/` answers the map to a browser and the landing page to HTTP libraries (`*/*`) and to
/// clients that prefer JSON.
#[tokio::test]
async fn the_landing_page_is_negotiated() {
    let server = start_fixtures().await;
    for (accept, html) in [
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            true,
        ),
        ("*/*", false),
        ("application/json, text/html;q=0.5", false),
        ("application/json", false),
    ] {
        let r = server.client_get("/", accept).await;
        assert_eq!(r.status(), 200);
        let media = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(media.starts_with("text/html"), html, "{accept} -> {media}");
    }
}

/// Tiles deeper than a layer's maxzoom are drawn with its maxzoom detail (XYZ clients without
/// a zoom cap), up to z24.
#[tokio::test]
async fn tiles_above_maxzoom_are_overzoomed() {
    let server = start_fixtures().await;
    // The west square (maxzoom 14) covers the z18 tile north-east of lon 0, lat 0.
    let (x, y) = (131_072, 131_071);
    let deep = decode_mvt(&tile_bytes(&server, &format!("/tiles/squares/18/{x}/{y}.mvt")).await);
    assert!(
        deep["squares"]["features"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "features at z18"
    );
    let r = server.get("/tiles/squares/24/8388608/8388607.mvt").await;
    assert_eq!(r.status(), 200, "z24");
    assert_eq!(server.get("/tiles/squares/25/0/0.mvt").await.status(), 400);
}

/// The CQL2 standard's Annex A: every predicate of its tables, in CQL2 Text and in CQL2 JSON
/// (converted by the `cql2` Python package, not by Terril), gives the standard's count on the
/// standard's Natural Earth data, on items and on tiles.
#[tokio::test]
async fn cql2_annex_a_counts() {
    let data = std::env::var("TERRIL_CQL2_DATA").map_or_else(
        |_| root().join("../shared/testdata/ne110m4cql2"),
        std::path::PathBuf::from,
    );
    assert!(
        data.join("catalog.toml").is_file(),
        "the OGC CQL2 test data (ne110m4cql2) is expected at {}; set TERRIL_CQL2_DATA",
        data.display()
    );
    let server = crate::support::start_with(&data, 64, Default::default()).await;
    let base = server.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(root().join("tests/tools/cql2_annex_a.py"))
            .arg(&base)
            .arg(root().join("tests/cql2/annex_a.tsv"))
            .output()
            .expect("python3 with cql2 (tests/requirements.txt)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every class of the tables was run, in both languages.
    let summary: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once(": ")).collect();
    for class in [
        "basic-cql2",
        "advanced-comparison-operators",
        "case-insensitive-comparison",
        "accent-insensitive-comparison",
        "basic-spatial-functions",
        "basic-spatial-functions-plus",
        "spatial-functions",
        "temporal-functions",
        "property-property",
        "arithmetic",
    ] {
        assert!(summary.contains_key(class), "{class} ran: {stdout}");
    }
}

/// TileJSON's `vector_layers` say what the tiles hold: every declared field is carried by some
/// feature of its layer over the territory, and no feature carries an undeclared one; the
/// attribution names each source once.
#[tokio::test]
async fn tilejson_fields_are_the_tiles_fields() {
    let server = crate::support::start_with(&root().join("geodata"), 16, Default::default()).await;
    let tj: Value = server.get("/tiles.json").await.json().await.unwrap();
    let declared: BTreeMap<String, BTreeSet<String>> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let fields = l["fields"].as_object().unwrap().keys().cloned().collect();
            (l["id"].as_str().unwrap().to_owned(), fields)
        })
        .collect();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let [w, s, e, n] = [2.4, 50.3, 3.2, 50.7];
    for z in [8u8, 10, 12] {
        let a = terril::mercator::TileCoord::containing(w, n, z);
        let b = terril::mercator::TileCoord::containing(e, s, z);
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                let r = server.get(&format!("/tiles/{z}/{x}/{y}.mvt")).await;
                if r.status() != 200 {
                    continue;
                }
                let decoded = decode_mvt(&r.bytes().await.unwrap());
                for (layer, content) in decoded.as_object().unwrap() {
                    let keys = seen.entry(layer.clone()).or_default();
                    for f in content["features"].as_array().unwrap() {
                        keys.extend(f["properties"].as_object().unwrap().keys().cloned());
                    }
                }
            }
        }
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>(),
        "layers in tiles and in TileJSON"
    );
    for (layer, fields) in &declared {
        assert_eq!(&seen[layer], fields, "fields of {layer}");
    }
    let attribution = tj["attribution"].as_str().unwrap();
    let parts: Vec<&str> = attribution.split(" — ").collect();
    let unique: BTreeSet<&str> = parts.iter().copied().collect();
    assert_eq!(parts.len(), unique.len(), "{attribution}");
}
