//! Spatial queries: checked against brute-force scans, PostGIS distances, over HTTP, and read
//! by GDAL's OGC API – Features driver.

use std::process::Command;

use geo::{Geometry, Intersects, Point};
use serde_json::Value;
use terril::ServerOptions;
use terril::cancel::Cancel;
use terril::data::Layer;
use terril::filter::{Evaluator, Filter, FilterLang, Schema};
use terril::geodesy::distance_m;
use terril::query::{self, Hit};
use terril::source::Catalog;

use crate::support::{
    client, decode_mvt, fixtures, load, lonlat, memory, memory_layers, root, start_with, tile_bytes,
};

fn catalogs() -> Vec<Catalog> {
    vec![load(&root().join("geodata")), load(&fixtures())]
}

/// Deterministic points over (and a little beyond) a catalog's bounds.
fn sample_points(catalog: &Catalog, n: usize) -> Vec<(f64, f64)> {
    let [w, s, e, north] = catalog.bounds().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 1_000_000) as f64 / 1_000_000.0
    };
    (0..n)
        .map(|_| {
            (
                w - 0.05 + next() * (e - w + 0.1),
                s - 0.05 + next() * (north - s + 0.1),
            )
        })
        .collect()
}

fn brute(layer: &Layer, lon: f64, lat: f64, filter: Option<&Evaluator<'_>>) -> Vec<Hit> {
    let p: Geometry<f64> = Point::new(lon, lat).into();
    let mut all: Vec<Hit> = layer
        .features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.geometry.is_some() && filter.is_none_or(|flt| flt.matches(f)))
        .map(|(i, _)| Hit {
            index: i,
            distance_m: distance_m(&p, lonlat(layer, i)),
        })
        .collect();
    all.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.index.cmp(&b.index))
    });
    all
}

#[test]
fn within_nearest_and_at_match_a_brute_force_scan() {
    let none = Cancel::new();
    for catalog in catalogs() {
        for (lon, lat) in sample_points(&catalog, 40) {
            for m in memory_layers(&catalog) {
                let layer = &m.data;
                let all = brute(layer, lon, lat, None);
                for radius in [300.0, 2_000.0, 8_000.0, 40_000.0] {
                    let want: Vec<Hit> = all
                        .iter()
                        .filter(|h| h.distance_m <= radius)
                        .cloned()
                        .collect();
                    assert_eq!(
                        query::within(m.indexed(), lon, lat, radius, None, usize::MAX, &none)
                            .unwrap(),
                        want,
                        "{} within {radius} of {lon},{lat}",
                        layer.id()
                    );
                }
                for k in [1, 3, 7] {
                    let want: Vec<Hit> = all.iter().take(k).cloned().collect();
                    assert_eq!(
                        query::nearest(m.indexed(), lon, lat, k, None, f64::INFINITY, &none)
                            .unwrap(),
                        want,
                        "{} {k} nearest {lon},{lat}",
                        layer.id()
                    );
                    let capped: Vec<Hit> = want
                        .iter()
                        .filter(|h| h.distance_m <= 1_500.0)
                        .cloned()
                        .collect();
                    assert_eq!(
                        query::nearest(m.indexed(), lon, lat, k, None, 1_500.0, &none).unwrap(),
                        capped
                    );
                }
                let point = Point::new(lon, lat);
                let want: Vec<usize> = (0..layer.features.len())
                    .filter(|&i| {
                        layer.features[i]
                            .geometry
                            .as_ref()
                            .is_some_and(|g| g.intersects(&point))
                    })
                    .collect();
                assert_eq!(
                    query::at(m.indexed(), lon, lat, None, &none).unwrap(),
                    want,
                    "{} at {lon},{lat}",
                    layer.id()
                );
            }
        }
    }
}

#[test]
fn filtered_queries_and_near_match_a_brute_force_scan() {
    let none = Cancel::new();
    let catalog = load(&root().join("geodata"));
    let infra_m = memory(&catalog, "infrastructure");
    let zones_m = memory(&catalog, "zones");
    let (infra, zones) = (&infra_m.data, &zones_m.data);
    let junctions = Filter::new(
        "kind = 'motorway_junction'",
        FilterLang::Text,
        &Schema::of_layer(infra),
    )
    .unwrap();
    let junctions = junctions.evaluator();
    for (lon, lat) in sample_points(&catalog, 20) {
        let all = brute(infra, lon, lat, Some(&junctions));
        let want: Vec<Hit> = all
            .iter()
            .filter(|h| h.distance_m <= 5_000.0)
            .cloned()
            .collect();
        assert_eq!(
            query::within(
                infra_m.indexed(),
                lon,
                lat,
                5_000.0,
                Some(&junctions),
                usize::MAX,
                &none
            )
            .unwrap(),
            want
        );
        assert_eq!(
            query::nearest(
                infra_m.indexed(),
                lon,
                lat,
                2,
                Some(&junctions),
                f64::INFINITY,
                &none
            )
            .unwrap(),
            all[..2].to_vec()
        );
    }
    for d in [500.0, 2_000.0, 5_000.0] {
        let got = query::near(
            zones_m.indexed(),
            None,
            infra_m.indexed(),
            Some(&junctions),
            d,
            usize::MAX,
            &none,
        )
        .unwrap();
        let mut want = Vec::new();
        for i in 0..zones.features.len() {
            let best = infra
                .features
                .iter()
                .enumerate()
                .filter(|(_, t)| junctions.matches(t))
                .map(|(j, _)| (distance_m(lonlat(zones, i), lonlat(infra, j)), j))
                .filter(|(dist, _)| *dist <= d)
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if let Some((dist, j)) = best {
                want.push(query::NearHit {
                    index: i,
                    target: j,
                    distance_m: dist,
                });
            }
        }
        want.sort_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.index.cmp(&b.index))
        });
        assert_eq!(got, want, "near {d}");
        assert!(
            d < 2_000.0 || !got.is_empty(),
            "some zone lies within {d} m of a junction"
        );
    }
}

/// Ground distances agree with PostGIS `ST_Distance(geography)` (WGS84 spheroid) to 0.5 %
/// (and 0.5 m) for points against every feature of the territory: points, lines, polygons.
#[test]
fn distances_agree_with_postgis() {
    let db = std::env::var("TERRIL_PG_DB").unwrap_or_else(|_| "terril_test".into());
    let catalog = load(&root().join("geodata"));
    let points = sample_points(&catalog, 12);
    let mut rows = Vec::new();
    let mut ours = Vec::new();
    for (lon, lat) in &points {
        let p: Geometry<f64> = Point::new(*lon, *lat).into();
        for m in memory_layers(&catalog) {
            let layer = &m.data;
            for (i, f) in layer.features.iter().enumerate() {
                let g = lonlat(layer, i);
                let wkt = wkt::ToWkt::wkt_string(g);
                rows.push(format!("({}, 'POINT({lon} {lat})', '{wkt}')", ours.len()));
                ours.push((distance_m(&p, g), layer.id().to_owned(), f.id.to_string()));
            }
        }
    }
    let sql = format!(
        "SELECT i, ST_Distance(ST_GeogFromText(a), ST_GeogFromText(b), true) FROM (VALUES {}) AS t(i, a, b) ORDER BY i",
        rows.join(",")
    );
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-F", " ", "-d", &db, "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(sql.as_bytes())?;
            child.wait_with_output()
        })
        .expect("psql must be installed with a PostGIS database (tools/test.sh sets it up)");
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let reference: Vec<f64> = text
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(reference.len(), ours.len());
    let mut worst = 0.0_f64;
    for ((d, layer, id), r) in ours.iter().zip(&reference) {
        let err = (d - r).abs();
        assert!(
            err <= 0.5 || err / r <= 0.005,
            "{layer}/{id}: ours {d:.2} m, PostGIS {r:.2} m"
        );
        if *r > 100.0 {
            worst = worst.max(err / r);
        }
    }
    assert!(ours.len() > 1_500, "{} pairs", ours.len());
    assert!(worst < 0.005, "worst relative error {worst}");
}

async fn json(server: &crate::support::Server, path: &str) -> Value {
    let resp = server.get(path).await;
    assert_eq!(resp.status(), 200, "{path}: {}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn expect_400(server: &crate::support::Server, path: &str, code: &str, mention: &str) {
    let resp = server.get(path).await;
    assert_eq!(resp.status(), 400, "{path}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], code, "{path}: {body}");
    let description = body["description"].as_str().unwrap();
    assert!(
        description.contains(mention),
        "{path}: {description:?} should mention {mention:?}"
    );
}

#[tokio::test]
async fn territorial_queries_over_http() {
    let server = start_with(&root().join("geodata"), 0, ServerOptions::default()).await;
    // Which commune is the Gare de Lens in?
    let at = json(
        &server,
        "/query/at?lon=2.8270&lat=50.4277&layers=communes,epci",
    )
    .await;
    let found: Vec<(&str, &str)> = at["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["layer"].as_str().unwrap(), f["id"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [("communes", "62498"), ("epci", "CALL")]);

    // Tourist sites within 2 km of the Gare de Lens: the Louvre-Lens among them, nearest first.
    let within = json(
        &server,
        "/query/within?layer=tourism&lon=2.8270&lat=50.4277&radius_m=2000",
    )
    .await;
    let features = within["features"].as_array().unwrap();
    let distances: Vec<f64> = features
        .iter()
        .map(|f| f["properties"]["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]) && distances.iter().all(|d| *d <= 2000.0));
    assert!(
        features
            .iter()
            .any(|f| f["properties"]["name"] == "Louvre-Lens")
    );
    assert_eq!(within["numberReturned"], features.len());

    let nearest = json(&server, "/query/nearest?layer=infrastructure&lon=2.8&lat=50.45&k=2&filter=kind%3D%27rail_station%27").await;
    assert_eq!(nearest["features"].as_array().unwrap().len(), 2);
    assert!(
        nearest["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["kind"] == "rail_station")
    );

    // Economic zones within 2 km of a motorway junction, with the junction named.
    let near = json(&server, "/query/near?layer=zones&target=infrastructure&target_filter=kind%3D%27motorway_junction%27&distance_m=2000").await;
    let hits = near["features"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        assert!(
            h["properties"]["target_id"]
                .as_str()
                .unwrap()
                .starts_with('M')
        );
        assert!(h["properties"]["target_name"].as_str().is_some());
        assert!(h["properties"]["distance_m"].as_f64().unwrap() <= 2000.0);
        assert_eq!(h["properties"]["target_layer"], "infrastructure");
    }

    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&radius_m=10",
        "invalid_parameter",
        "lat",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=91&radius_m=10",
        "invalid_parameter",
        "lat",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=50&radius_m=100001",
        "invalid_parameter",
        "radius_m",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=50&radius_m=NaN",
        "invalid_parameter",
        "radius_m",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=50&radius_m=-1",
        "invalid_parameter",
        "radius_m",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=50&radius=10",
        "invalid_parameter",
        "unknown parameter",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lon=2.9&lat=50&radius_m=10",
        "invalid_parameter",
        "more than once",
    )
    .await;
    expect_400(
        &server,
        "/query/nearest?layer=tourism&lon=2.8&lat=50&k=1001",
        "invalid_parameter",
        "k",
    )
    .await;
    expect_400(
        &server,
        "/query/nearest?layer=tourism&lon=2.8&lat=50&k=0",
        "invalid_parameter",
        "k",
    )
    .await;
    expect_400(
        &server,
        "/query/near?layer=zones&target=infrastructure&distance_m=200000",
        "invalid_parameter",
        "distance_m",
    )
    .await;
    expect_400(
        &server,
        "/query/near?layer=zones&target=infrastructure&distance_m=10&target_filter=kind%3D3",
        "invalid_filter",
        "type mismatch",
    )
    .await;
    expect_400(
        &server,
        "/query/within?layer=tourism&lon=2.8&lat=50&radius_m=10&filter=colour%3D%27red%27",
        "invalid_filter",
        "colour",
    )
    .await;
    let long = format!(
        "/query/within?layer=tourism&lon=2.8&lat=50&radius_m=10&filter=name%3D%27{}%27",
        "x".repeat(17_000)
    );
    expect_400(&server, &long, "invalid_filter", "16384").await;
    let resp = server
        .get("/query/within?layer=nope&lon=2.8&lat=50&radius_m=10")
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn ogc_api_features_pages_filters_and_describes() {
    let server = start_with(&root().join("geodata"), 0, ServerOptions::default()).await;
    let landing = json(&server, "/?f=json").await;
    let rels: Vec<&str> = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rel}");
    }
    let conformance = json(&server, "/conformance").await;
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/cql2/1.0/conf/cql2-text"));
    let api = json(&server, "/api").await;
    assert_eq!(api["openapi"], "3.0.3");
    for path in [
        "/collections/{collectionId}/items",
        "/query/near",
        "/tiles/{z}/{x}/{y}",
    ] {
        assert!(api["paths"].get(path).is_some(), "{path} missing from /api");
    }

    let collections = json(&server, "/collections").await;
    assert_eq!(collections["collections"].as_array().unwrap().len(), 7);
    let communes = json(&server, "/collections/communes").await;
    assert_eq!(
        communes["extent"]["spatial"]["bbox"][0]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let queryables = json(&server, "/collections/communes/queryables").await;
    assert_eq!(queryables["properties"]["population"]["type"], "integer");
    assert_eq!(queryables["properties"]["name"]["type"], "string");
    assert_eq!(
        queryables["properties"]["geometry"]["format"],
        "geometry-any"
    );

    // Follow the next links through all 115 communes, 40 at a time.
    let mut url = server.url("/collections/communes/items?limit=40");
    let mut ids = Vec::new();
    loop {
        let resp = client().get(&url).send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], "application/geo+json");
        let page: Value = resp.json().await.unwrap();
        assert_eq!(page["numberMatched"], 115);
        ids.extend(
            page["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_owned()),
        );
        match page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(next) => url = next["href"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    assert_eq!(ids.len(), 115);
    ids.dedup();
    assert_eq!(ids.len(), 115);

    let memoire = json(
        &server,
        "/collections/tourism/items?filter=theme%20%3D%20%27MEMOIRE%27&limit=100",
    )
    .await;
    assert!(memoire["numberMatched"].as_u64().unwrap() >= 3);
    assert!(
        memoire["features"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["properties"]["theme"] == "MEMOIRE")
    );
    let json_filter = json(
        &server,
        "/collections/tourism/items?filter-lang=cql2-json&limit=100&filter=%7B%22op%22%3A%22%3D%22%2C%22args%22%3A%5B%7B%22property%22%3A%22theme%22%7D%2C%22MEMOIRE%22%5D%7D",
    )
    .await;
    assert_eq!(json_filter["numberMatched"], memoire["numberMatched"]);
    let big = json(&server, "/collections/communes/items?filter=population%20%3E%2020000%20AND%20S_INTERSECTS(geometry%2C%20BBOX(2.7%2C50.35%2C2.9%2C50.5))&properties=name,population&limit=100").await;
    let names: Vec<&str> = big["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Lens") && names.contains(&"Liévin") && !names.contains(&"Béthune"),
        "{names:?}"
    );
    assert!(
        big["features"][0]["properties"].get("epci").is_none(),
        "only the selected properties"
    );
    let boxed = json(
        &server,
        "/collections/communes/items?bbox=2.82,50.42,2.84,50.44&limit=100",
    )
    .await;
    assert!(
        boxed["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "62498")
    );

    let lens = json(&server, "/collections/communes/items/62498").await;
    assert_eq!(lens["properties"]["name"], "Lens");
    assert_eq!(lens["geometry"]["type"], "Polygon");
    assert_eq!(
        server
            .get("/collections/communes/items/99999")
            .await
            .status(),
        404
    );
    assert_eq!(server.get("/collections/nope/items").await.status(), 404);
    expect_400(
        &server,
        "/collections/communes/items?limit=10001",
        "invalid_parameter",
        "limit",
    )
    .await;
    // West east of east: a box across the antimeridian, which holds no commune of the Artois.
    let across = json(&server, "/collections/communes/items?bbox=10,50,2,51").await;
    assert_eq!(across["numberMatched"], 0);
    let across = json(&server, "/collections/communes/items?bbox=2.0,50,-170,51").await;
    assert_eq!(
        across["numberMatched"], 115,
        "east of 2° and west of -170° holds them all"
    );
    expect_400(
        &server,
        "/collections/communes/items?bbox=3,51,4,50",
        "invalid_bbox",
        "south",
    )
    .await;
    expect_400(
        &server,
        "/collections/communes/items?bbox=1,2,3",
        "invalid_bbox",
        "4 numbers",
    )
    .await;
    expect_400(
        &server,
        "/collections/communes/items?filter=population%20%3E",
        "invalid_filter",
        "syntax",
    )
    .await;
    expect_400(
        &server,
        "/collections/communes/items?filter-lang=sql&filter=1",
        "invalid_filter",
        "filter-lang",
    )
    .await;
    expect_400(
        &server,
        "/collections/communes/items?properties=colour",
        "invalid_parameter",
        "colour",
    )
    .await;
}

/// `?filter=` on tiles keeps only the matching features.
#[tokio::test]
async fn tiles_take_a_cql2_filter() {
    let server = start_with(&root().join("geodata"), 0, ServerOptions::default()).await;
    let all = decode_mvt(&tile_bytes(&server, "/tiles/tourism/9/259/172.mvt").await);
    let themes = |d: &Value| -> Vec<String> {
        d["tourism"]["features"].as_array().map_or(vec![], |fs| {
            fs.iter()
                .map(|f| f["properties"]["theme"].as_str().unwrap().to_owned())
                .collect()
        })
    };
    assert!(themes(&all).iter().any(|t| t != "MEMOIRE"));
    let memoire = decode_mvt(
        &tile_bytes(
            &server,
            "/tiles/tourism/9/259/172.mvt?filter=theme%3D%27MEMOIRE%27",
        )
        .await,
    );
    let got = themes(&memoire);
    assert!(
        !got.is_empty() && got.iter().all(|t| t == "MEMOIRE"),
        "{got:?}"
    );
    assert_eq!(
        got.len(),
        themes(&all).iter().filter(|t| *t == "MEMOIRE").count()
    );
    let resp = server
        .get("/tiles/tourism,communes/9/259/172.mvt?filter=theme%3D%27MEMOIRE%27")
        .await;
    assert_eq!(resp.status(), 400, "communes have no theme");
    expect_400(
        &server,
        "/tiles/tourism/9/259/172.mvt?filter=theme%3D",
        "invalid_filter",
        "syntax",
    )
    .await;
}

/// GDAL's OAPIF driver lists the collections and reads every feature of every layer, paging
/// 10 at a time, as QGIS would; an attribute filter gives the server's count.
#[tokio::test]
async fn gdal_reads_every_collection_through_ogc_api_features() {
    let server = start_with(&root().join("geodata"), 0, ServerOptions::default()).await;
    let source = format!("OAPIF:{}", server.base);
    let base = server.base.clone();
    let run = move |args: Vec<String>| {
        let out = Command::new("ogrinfo")
            .args(&args)
            .output()
            .expect("ogrinfo (gdal-bin) must be installed");
        assert!(
            out.status.success(),
            "ogrinfo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listing = tokio::task::spawn_blocking({
        let source = source.clone();
        move || run(vec!["-ro".into(), source])
    })
    .await
    .unwrap();
    let catalog = load(&root().join("geodata"));
    for layer in catalog.layers() {
        assert!(
            listing.contains(&format!(": {} (title:", layer.id())),
            "{} missing in\n{listing}",
            layer.id()
        );
        let (source, id) = (source.clone(), layer.id().to_owned());
        let features = tokio::task::spawn_blocking(move || {
            run(vec![
                "-ro".into(),
                "-al".into(),
                "-q".into(),
                "-oo".into(),
                "PAGE_SIZE=10".into(),
                source,
                id,
            ])
        })
        .await
        .unwrap();
        let count = features
            .lines()
            .filter(|l| l.starts_with("OGRFeature("))
            .count();
        assert_eq!(
            count as u64,
            layer.info.count.unwrap(),
            "{}: GDAL read {count}",
            layer.id()
        );
    }
    let filtered = tokio::task::spawn_blocking(move || {
        run(vec![
            "-ro".into(),
            "-al".into(),
            "-q".into(),
            source,
            "tourism".into(),
            "-where".into(),
            "theme = 'MEMOIRE'".into(),
        ])
    })
    .await
    .unwrap();
    let count = filtered
        .lines()
        .filter(|l| l.starts_with("OGRFeature("))
        .count();
    let ours: Value = client()
        .get(format!(
            "{base}/collections/tourism/items?filter=theme%3D%27MEMOIRE%27"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count as u64, ours["numberMatched"].as_u64().unwrap());
}
