//! HTTP behaviour: statuses, caching headers, ETag/304, compression, CORS, HEAD, JSON errors.

use std::io::Read;

use reqwest::header;
use serde_json::Value;
use terril::ServerOptions;

use crate::support::{client, fixtures, start_fixtures, start_with};

const TILE: &str = "/tiles/8/128/127.mvt";

async fn error_json(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status, "{}", resp.url());
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn tiles_carry_type_etag_cache_control_and_vary() {
    let server = start_fixtures().await;
    let resp = server.get(TILE).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(
        h[header::CONTENT_TYPE],
        "application/vnd.mapbox-vector-tile"
    );
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=3600");
    assert!(
        h[header::VARY]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("accept-encoding")
    );
    let etag = h[header::ETAG].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let body = resp.bytes().await.unwrap();

    // The same tile again: same bytes, same ETag (cached or not).
    let again = server.get(TILE).await;
    assert_eq!(again.headers()[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(again.bytes().await.unwrap(), body);

    // If-None-Match with that ETag: 304, no body.
    let resp = client()
        .get(server.url(TILE))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    // Another ETag: the full tile.
    let resp = client()
        .get(server.url(TILE))
        .header(header::IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn gzip_and_brotli_decode_to_the_same_tile() {
    let server = start_fixtures().await;
    let plain = server.get(TILE).await.bytes().await.unwrap();
    let plain_etag = server.get(TILE).await.headers()[header::ETAG].clone();

    let resp = client()
        .get(server.url(TILE))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    assert_ne!(
        resp.headers()[header::ETAG],
        plain_etag,
        "each encoding has its own strong ETag"
    );
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&resp.bytes().await.unwrap()[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    let resp = client()
        .get(server.url(TILE))
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "br");
    let mut out = Vec::new();
    brotli::Decompressor::new(&resp.bytes().await.unwrap()[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
}

#[tokio::test]
async fn the_uncached_path_gives_the_same_answers() {
    let cached = start_fixtures().await;
    let uncached = start_with(&fixtures(), 0, ServerOptions::default()).await;
    for path in [TILE, "/tiles/sites/8/128/127.mvt", "/tiles/8/10/10.mvt"] {
        let a = cached.get(path).await;
        let b = uncached.get(path).await;
        assert_eq!(a.status(), b.status());
        assert_eq!(a.headers()[header::ETAG], b.headers()[header::ETAG]);
        assert_eq!(a.bytes().await.unwrap(), b.bytes().await.unwrap());
    }
    let health: Value = uncached.get("/health").await.json().await.unwrap();
    assert_eq!(health["tile_cache"]["enabled"], false);
}

#[tokio::test]
async fn cors_is_open_by_default_and_can_be_turned_off() {
    let server = start_fixtures().await;
    let resp = client()
        .get(server.url(TILE))
        .header(header::ORIGIN, "https://example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let preflight = client()
        .request(reqwest::Method::OPTIONS, server.url(TILE))
        .header(header::ORIGIN, "https://example.org")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "*"
    );

    let closed = start_with(
        &fixtures(),
        0,
        ServerOptions {
            cors: false,
            ..ServerOptions::default()
        },
    )
    .await;
    let resp = client()
        .get(closed.url(TILE))
        .header(header::ORIGIN, "https://example.org")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let server = start_fixtures().await;
    for path in [TILE, "/tiles.json", "/catalog", "/health"] {
        let get = server.get(path).await;
        let head = client().head(server.url(path)).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(
            head.headers().get(header::ETAG),
            get.headers().get(header::ETAG),
            "{path}"
        );
        assert_eq!(
            head.headers()[header::CONTENT_TYPE],
            get.headers()[header::CONTENT_TYPE],
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let server = start_fixtures().await;
    for path in [
        "/tiles/a/0/0.mvt",
        "/tiles/25/0/0.mvt",
        "/tiles/2/4/0.mvt",
        "/tiles/2/0/4.mvt",
        "/tiles/2/0/-1.mvt",
        "/tiles/-2/0/0.mvt",
        "/tiles/2/0/0.png",
        "/tiles/2/0/0",
        "/tiles/99999999999999999999/0/0.mvt",
        "/tiles/squares/2/0/x.mvt",
        "/tiles/squares,/2/0/0.mvt",
    ] {
        error_json(
            server.get(path).await,
            400,
            if path.contains(",/") {
                "invalid_layers"
            } else {
                "invalid_tile"
            },
        )
        .await;
    }
    let body = error_json(
        server.get("/tiles/nope/2/0/0.mvt").await,
        404,
        "unknown_layer",
    )
    .await;
    assert!(body["description"].as_str().unwrap().contains("nope"));
    error_json(
        server.get("/tiles/squares,nope/2/0/0.mvt").await,
        404,
        "unknown_layer",
    )
    .await;
    error_json(server.get("/tiles/nope.json").await, 404, "unknown_layer").await;
    error_json(server.get("/no/such/route").await, 404, "not_found").await;
    let resp = client()
        .post(server.url(TILE))
        .body("x")
        .send()
        .await
        .unwrap();
    error_json(resp, 405, "method_not_allowed").await;
    // Invalid percent-encoding in a path segment.
    error_json(server.get("/tiles/%FF/0/0.mvt").await, 400, "invalid_tile").await;
}

#[tokio::test]
async fn tilejson_describes_the_layers() {
    let server = start_fixtures().await;
    let tj: Value = server.get("/tiles.json").await.json().await.unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["tiles"][0], server.url("/tiles/{z}/{x}/{y}.mvt"));
    assert_eq!(tj["minzoom"], 0);
    assert_eq!(tj["maxzoom"], 16);
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(b, vec![-0.2, -0.2, 1.2, 0.7001]);
    assert_eq!(tj["center"].as_array().unwrap().len(), 3);
    assert_eq!(tj["attribution"], "Terril test fixtures");
    let ids: Vec<&str> = tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["squares", "roads", "sites"]);
    let sites = &tj["vector_layers"][2];
    assert_eq!(sites["fields"]["visitors"], "Number");
    assert_eq!(sites["fields"]["open"], "Boolean");
    assert_eq!(sites["fields"]["name"], "String");
    assert!(
        sites["fields"].get("secret").is_none(),
        "only tile properties are listed"
    );
    assert_eq!(tj["vector_layers"][1]["minzoom"], 4);

    let tj: Value = server
        .get("/tiles/sites,roads.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        tj["tiles"][0],
        server.url("/tiles/sites,roads/{z}/{x}/{y}.mvt")
    );
    assert_eq!(tj["vector_layers"].as_array().unwrap().len(), 2);
    assert_eq!(tj["minzoom"], 0, "sites start at z0");
    let tj: Value = server.get("/tiles/roads.json").await.json().await.unwrap();
    assert_eq!(tj["minzoom"], 4);

    let public = start_with(
        &fixtures(),
        0,
        ServerOptions {
            public_url: Some("https://tiles.example.org/terril/".into()),
            ..ServerOptions::default()
        },
    )
    .await;
    let tj: Value = public.get("/tiles.json").await.json().await.unwrap();
    assert_eq!(
        tj["tiles"][0],
        "https://tiles.example.org/terril/tiles/{z}/{x}/{y}.mvt"
    );
}

#[tokio::test]
async fn catalog_and_health() {
    let server = start_fixtures().await;
    let catalog: Value = server.get("/catalog").await.json().await.unwrap();
    let layers = catalog["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0]["id"], "squares");
    assert_eq!(layers[0]["count"], 3);
    assert_eq!(layers[0]["geometry_types"], serde_json::json!(["Polygon"]));
    assert_eq!(layers[2]["fields"]["height_m"], "number");
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["features"], 7);
    assert_eq!(health["version"], catalog["version"]);
}

#[tokio::test]
async fn the_map_page_assets_styles_glyphs_and_sprites() {
    let server = start_fixtures().await;
    // Browsers get the map with a same-origin Content-Security-Policy; API clients the landing page.
    let html = client()
        .get(server.url("/"))
        .header(header::ACCEPT, "text/html,*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    assert_eq!(
        html.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let csp = html.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("script-src 'self'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    let body = html.text().await.unwrap();
    assert!(
        body.contains("/assets/app.js") || body.contains("MapLibre GL JS n'a pas pu"),
        "{body}"
    );
    let landing = client()
        .get(server.url("/"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(landing.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(server.get("/embed").await.status(), 200);

    for (path, media) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/maplibre-gl.mjs", "text/javascript; charset=utf-8"),
        (
            "/assets/maplibre-gl-worker.mjs",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/icons/museum.svg", "image/svg+xml"),
        ("/sprites/terril.png", "image/png"),
        ("/sprites/terril@2x.json", "application/json"),
        (
            "/fonts/DejaVu%20Sans%20Book/0-255.pbf",
            "application/x-protobuf",
        ),
        ("/styles/tourisme.json", "application/json"),
    ] {
        let resp = server.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], media, "{path}");
        let etag = resp.headers()[header::ETAG].clone();
        assert!(!resp.bytes().await.unwrap().is_empty(), "{path}");
        let again = client()
            .get(server.url(path))
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let style: Value = server
        .get("/styles/territoire.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(style["sources"]["terril"]["url"], server.url("/tiles.json"));
    assert_eq!(style["sprite"], server.url("/sprites/terril"));

    error_json(
        server.get("/fonts/DejaVu%20Sans%20Book/0-256.pbf").await,
        400,
        "invalid_range",
    )
    .await;
    error_json(
        server
            .get("/fonts/DejaVu%20Sans%20Book/65536-65791.pbf")
            .await,
        400,
        "invalid_range",
    )
    .await;
    error_json(
        server.get("/fonts/Comic%20Sans/0-255.pbf").await,
        404,
        "unknown_font",
    )
    .await;
    error_json(
        server.get("/sprites/other.png").await,
        404,
        "unknown_sprite",
    )
    .await;
    error_json(server.get("/styles/nope.json").await, 404, "unknown_style").await;
    error_json(server.get("/assets/index.html").await, 404, "not_found").await;
    error_json(
        server.get("/assets/..%2FCargo.toml").await,
        404,
        "not_found",
    )
    .await;
    error_json(
        server.get("/assets/icons/..%2F..%2FCargo.toml").await,
        404,
        "not_found",
    )
    .await;
}
