//! Criterion benchmarks on deterministic data: rendering tiles (territory, and the national
//! communes when `TERRIL_NATIONAL` names their folder), the spatial queries, compiling a
//! filter, and preparing a huge polygon for tiles.
//!
//!     cargo bench --bench terril
//!     TERRIL_NATIONAL=/tmp/national cargo bench --bench terril -- national
//!
//! (`benches/national.py` writes the catalog with `[layer.generalize]`; remove that table for
//! the same tiles with every commune.)

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use terril::cancel::Cancel;
use terril::data::{DataFolder, LayerConfig};
use terril::filter::{Filter, FilterLang, Schema};
use terril::mercator::TileCoord;
use terril::query::{at, near, nearest, within};
use terril::source::{Catalog, MemoryLayer};
use terril::tile::{LayerTile, render_layer};

fn catalog(dir: &Path) -> Catalog {
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(Catalog::load(&DataFolder::Dir(dir.to_path_buf()), None))
        .expect("the data loads")
}

fn territory() -> Catalog {
    catalog(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
}

fn memory<'a>(catalog: &'a Catalog, id: &str) -> &'a MemoryLayer {
    catalog.layer(id).unwrap().as_memory().unwrap()
}

/// Every tile of `zoom` over a box.
fn tiles_over([w, s, e, n]: [f64; 4], z: u8) -> Vec<TileCoord> {
    let a = TileCoord::containing(w, n, z);
    let b = TileCoord::containing(e, s, z);
    (a.x..=b.x)
        .flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y }))
        .collect()
}

fn render_all(layers: &[&MemoryLayer], coord: TileCoord) -> Vec<u8> {
    let mut out = Vec::new();
    let none = Cancel::new();
    for m in layers {
        render_layer(
            LayerTile {
                layer: &m.data,
                tiles: &m.tiles,
                index: &m.index,
                filter: None,
            },
            coord,
            &none,
            &mut out,
        )
        .unwrap();
    }
    out
}

fn tiles(c: &mut Criterion) {
    let catalog = territory();
    let layers: Vec<&MemoryLayer> = catalog
        .layers()
        .iter()
        .filter_map(|l| l.as_memory())
        .collect();
    let bounds = catalog.bounds().unwrap();
    let mut group = c.benchmark_group("render");
    for z in [6u8, 10, 12, 14] {
        let coords = tiles_over(bounds, z);
        group.bench_function(format!("territory z{z} ({} tiles)", coords.len()), |b| {
            b.iter(|| {
                for &coord in &coords {
                    black_box(render_all(&layers, coord));
                }
            });
        });
    }
    group.finish();
}

/// The national communes (from `benches/national.py`), when `TERRIL_NATIONAL` names them.
fn national(c: &mut Criterion) {
    let Ok(dir) = std::env::var("TERRIL_NATIONAL") else {
        eprintln!(
            "national: skipped (set TERRIL_NATIONAL to the folder benches/national.py writes)"
        );
        return;
    };
    let catalog = catalog(Path::new(&dir));
    let communes = memory(&catalog, "communes");
    // Run once on a catalog with `[layer.generalize]` and once without to compare the two.
    let kind = match communes.data.config.generalize {
        Some(_) => "generalized",
        None => "every commune",
    };
    let mut group = c.benchmark_group("national");
    group.sample_size(20);
    // The tile over most of France at each low zoom: 5/16/11, 6/32/22, 7/64/44, 8/129/89.
    for (z, x, y) in [(5u8, 16u32, 11u32), (6, 32, 22), (7, 64, 44), (8, 129, 89)] {
        let coord = TileCoord { z, x, y };
        let bytes = render_all(&[communes], coord).len();
        group.bench_function(
            format!("z{z} tile over France, {kind} ({bytes} bytes)"),
            |b| b.iter(|| black_box(render_all(&[communes], coord))),
        );
    }
    group.bench_function("near 5 km: communes near communes", |b| {
        let cancel = Cancel::new();
        b.iter(|| {
            black_box(
                near(
                    communes.indexed(),
                    None,
                    communes.indexed(),
                    None,
                    5_000.0,
                    10,
                    &cancel,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

fn queries(c: &mut Criterion) {
    let catalog = territory();
    let communes = memory(&catalog, "communes");
    let tourism = memory(&catalog, "tourism");
    let zones = memory(&catalog, "zones");
    let infra = memory(&catalog, "infrastructure");
    let junctions = Filter::new(
        "kind = 'motorway_junction'",
        FilterLang::Text,
        &Schema::of_layer(&infra.data),
    )
    .unwrap();
    let junctions = junctions.evaluator();
    let none = Cancel::new();
    // The Gare de Lens.
    let (lon, lat) = (2.8270, 50.4277);
    let mut group = c.benchmark_group("query");
    group.bench_function("at: commune of a point", |b| {
        b.iter(|| black_box(at(communes.indexed(), black_box(lon), lat, None, &none)))
    });
    for (name, layer) in [("communes", communes), ("tourism", tourism)] {
        group.bench_function(format!("within 3 km: {name}"), |b| {
            b.iter(|| {
                black_box(within(
                    layer.indexed(),
                    black_box(lon),
                    lat,
                    3_000.0,
                    None,
                    usize::MAX,
                    &none,
                ))
            })
        });
        group.bench_function(format!("nearest 3: {name}"), |b| {
            b.iter(|| {
                black_box(nearest(
                    layer.indexed(),
                    black_box(lon),
                    lat,
                    3,
                    None,
                    f64::INFINITY,
                    &none,
                ))
            })
        });
    }
    group.bench_function("near 2 km: zones near motorway junctions", |b| {
        b.iter(|| {
            black_box(near(
                zones.indexed(),
                None,
                infra.indexed(),
                Some(&junctions),
                black_box(2_000.0),
                usize::MAX,
                &none,
            ))
        })
    });
    let schema = Schema::of_layer(&communes.data);
    group.bench_function("filter: compile a CQL2 filter", |b| {
        b.iter(|| {
            black_box(
                Filter::new(
                    black_box("population > 10000 AND name LIKE 'L%'"),
                    FilterLang::Text,
                    &schema,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

/// One polygon of a million vertices: parsed, indexed and simplified for every zoom.
fn huge_polygon(c: &mut Criterion) {
    let n = 1_000_000u32;
    let ring: Vec<[f64; 2]> = (0..=n)
        .map(|i| {
            let i = if i == n { 0 } else { i };
            let a = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
            let r = 0.5 + (f64::from(i) * 0.37).sin() * 0.0005;
            [2.8 + a.cos() * r, 50.4 + a.sin() * r * 0.64]
        })
        .collect();
    let text = serde_json::json!({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": "big", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}],
    })
    .to_string();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("a polygon of 1,000,000 vertices", |b| {
        b.iter(|| {
            let layer = terril::data::Layer::from_geojson(
                LayerConfig::named("big"),
                "big.geojson",
                black_box(text.as_bytes()),
            )
            .unwrap();
            black_box(MemoryLayer::build(layer))
        })
    });
    group.finish();
}

criterion_group!(benches, tiles, national, queries, huge_polygon);
criterion_main!(benches);
