//! Tiles read back by the third-party Python decoder: layers, geometry, properties, clipping,
//! orientation and overlap with the source geometry.

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon, Rect};
use serde_json::Value;
use terril::mercator::TileCoord;
use terril::source::Catalog;
use terril::tile::TileFrame;

use crate::support::{
    all_points, decode_mvt, feature, fixtures, layer_names, start_fixtures, tile_bytes,
};

/// Tile 8/128/127 spans lon 0–1.41°, lat 0–1.40°: it holds every fixture, so all three layers.
#[tokio::test]
async fn a_tile_over_the_fixtures_holds_every_layer_with_typed_properties() {
    let server = start_fixtures().await;
    let decoded = decode_mvt(&tile_bytes(&server, "/tiles/8/128/127.mvt").await);
    assert_eq!(layer_names(&decoded), ["roads", "sites", "squares"]);
    assert_eq!(decoded["squares"]["extent"], 4096);
    assert_eq!(decoded["squares"]["version"], 2);

    // The two squares, not the 11 m speck (sub-pixel at z8); the west one keeps its hole.
    let squares = decoded["squares"]["features"].as_array().unwrap();
    assert_eq!(squares.len(), 2);
    let west = feature(&decoded, "squares", "west");
    assert_eq!(west["type"], "Polygon");
    assert_eq!(
        west["coordinates"].as_array().unwrap().len(),
        2,
        "exterior and hole"
    );
    assert_eq!(west["properties"]["rank"], 1);

    // Typed properties survive; properties not listed in the catalog stay out.
    let site = feature(&decoded, "sites", "hole-site");
    assert_eq!(site["type"], "Point");
    assert_eq!(site["properties"]["visitors"], 1200);
    assert_eq!(site["properties"]["height_m"], 12.5);
    assert_eq!(site["properties"]["open"], true);
    assert!(site["properties"].get("secret").is_none());
    let pair = feature(&decoded, "sites", "pair");
    assert_eq!(pair["type"], "MultiPoint");
    assert_eq!(pair["properties"]["visitors"], -3);
    assert!(pair["properties"].get("tags").is_none());

    // Feature ids: the sites' ids are not numbers, so they are numbered in file order.
    assert_eq!(site["id"], 1);
    assert_eq!(pair["id"], 2);

    // The forked road is a MultiLineString; the straight one a LineString.
    assert_eq!(feature(&decoded, "roads", "r1")["type"], "LineString");
    assert_eq!(feature(&decoded, "roads", "r2")["type"], "MultiLineString");
}

#[tokio::test]
async fn layer_lists_and_zoom_ranges_choose_the_layers() {
    let server = start_fixtures().await;
    let decoded = decode_mvt(&tile_bytes(&server, "/tiles/sites,roads/8/128/127.mvt").await);
    assert_eq!(layer_names(&decoded), ["roads", "sites"]);
    // Roads start at z4: the z3 tile over the fixtures has squares and sites only.
    let decoded = decode_mvt(&tile_bytes(&server, "/tiles/3/4/3.mvt").await);
    assert_eq!(layer_names(&decoded), ["sites", "squares"]);
    // Squares end at z14 in TileJSON; a client asking for z15 anyway gets them overzoomed.
    let coord = TileCoord::containing(0.25, 0.25, 15);
    let decoded = decode_mvt(
        &tile_bytes(
            &server,
            &format!("/tiles/{}/{}/{}.mvt", coord.z, coord.x, coord.y),
        )
        .await,
    );
    assert_eq!(layer_names(&decoded), ["roads", "sites", "squares"]);
}

/// Signed area of a decoded ring in tile units (y down): positive means clockwise on screen.
fn ring_area(ring: &Value) -> f64 {
    let pts = all_points(ring);
    let n = pts.len();
    (0..n)
        .map(|i| pts[i][0] * pts[(i + 1) % n][1] - pts[(i + 1) % n][0] * pts[i][1])
        .sum::<f64>()
        / 2.0
}

/// The decoded polygons of a feature: a list of rings per polygon.
fn polygons(feature: &Value) -> Vec<Vec<Value>> {
    match feature["type"].as_str().unwrap() {
        "Polygon" => vec![feature["coordinates"].as_array().unwrap().clone()],
        "MultiPolygon" => feature["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_array().unwrap().clone())
            .collect(),
        other => panic!("not a polygon: {other}"),
    }
}

/// Every tile over the fixtures at z6–z10: all coordinates inside tile + buffer, exterior rings
/// clockwise and holes anticlockwise in tile space (MVT 2.1).
#[tokio::test]
async fn clipped_geometry_stays_in_the_buffer_and_rings_are_oriented() {
    let server = start_fixtures().await;
    for z in 6..=10u8 {
        let a = TileCoord::containing(-0.2, 0.7, z);
        let b = TileCoord::containing(1.2, -0.2, z);
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                let resp = server.get(&format!("/tiles/{z}/{x}/{y}.mvt")).await;
                if resp.status() == 204 {
                    continue;
                }
                let decoded = decode_mvt(&resp.bytes().await.unwrap());
                for (name, layer) in decoded.as_object().unwrap() {
                    for f in layer["features"].as_array().unwrap() {
                        for [px, py] in all_points(&f["coordinates"]) {
                            assert!(
                                (-64.0..=4160.0).contains(&px) && (-64.0..=4160.0).contains(&py),
                                "{z}/{x}/{y} {name}: point {px},{py} outside tile + buffer"
                            );
                        }
                        if name == "squares" {
                            for rings in polygons(f) {
                                assert!(
                                    ring_area(&rings[0]) > 0.0,
                                    "{z}/{x}/{y}: exterior not clockwise"
                                );
                                for hole in &rings[1..] {
                                    assert!(
                                        ring_area(hole) < 0.0,
                                        "{z}/{x}/{y}: hole not anticlockwise"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Decoded polygons projected back to EPSG:3857 overlap the source clipped to the tile:
/// IoU > 0.9 at z12 for every polygon of every tile.
pub fn assert_iou(
    catalog: &Catalog,
    layer_id: &str,
    coord: TileCoord,
    decoded: &Value,
    min_iou: f64,
) -> usize {
    let layer = &crate::support::memory(catalog, layer_id).data;
    let frame = TileFrame::new(coord);
    let bounds: Rect<f64> = coord.bounds();
    let tile_poly = bounds.to_polygon();
    let mut checked = 0;
    let Some(features) = decoded[layer_id]["features"].as_array() else {
        return 0;
    };
    for f in features {
        let id = crate::support::feature_id(f);
        let source = layer.position_of(&id).expect("source feature");
        let source_mp: MultiPolygon<f64> =
            match crate::support::to_mercator(crate::support::lonlat(layer, source)) {
                geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(mp) => mp,
                _ => continue,
            };
        let expected = source_mp.intersection(&MultiPolygon(vec![tile_poly.clone()]));
        let got = MultiPolygon(
            polygons(f)
                .iter()
                .map(|rings| {
                    let ring = |r: &Value| -> LineString<f64> {
                        let mut cs: Vec<Coord<f64>> = all_points(r)
                            .iter()
                            .map(|p| frame.to_mercator(p[0], p[1]))
                            .collect();
                        cs.push(cs[0]);
                        LineString(cs)
                    };
                    Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
                })
                .collect(),
        )
        .intersection(&MultiPolygon(vec![tile_poly.clone()]));
        let inter = got.intersection(&expected).unsigned_area();
        let union = got.union(&expected).unsigned_area();
        if union == 0.0 {
            continue;
        }
        let iou = inter / union;
        assert!(iou > min_iou, "{layer_id}/{id} in {coord}: IoU {iou:.4}");
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn decoded_polygons_overlap_their_source() {
    let server = start_fixtures().await;
    let catalog = crate::support::load(&fixtures());
    let mut checked = 0;
    for (lon, lat) in [(0.25, 0.25), (0.5, 0.2), (0.0, 0.0), (0.52, 0.2)] {
        let c = TileCoord::containing(lon, lat, 12);
        let decoded = decode_mvt(
            &tile_bytes(&server, &format!("/tiles/squares/12/{}/{}.mvt", c.x, c.y)).await,
        );
        checked += assert_iou(&catalog, "squares", c, &decoded, 0.9);
    }
    assert!(checked >= 5, "only {checked} polygons checked");
}

#[tokio::test]
async fn empty_and_out_of_range_tiles() {
    let server = start_fixtures().await;
    // Far from every fixture: no content.
    let resp = server.get("/tiles/8/10/10.mvt").await;
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    // A layer outside its zoom range alone gives an empty tile too.
    let resp = server.get("/tiles/roads/3/4/3.mvt").await;
    assert_eq!(resp.status(), 204);
}
