//! Criterion benchmarks on the default data: tile rendering by zoom (no cache) and each query
//! kind. Run with `cargo bench --bench terril`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use terril::layer::Catalog;
use terril::mercator::TileCoord;
use terril::query::filter::{Filter, FilterLang};
use terril::query::{at, near, nearest, within};
use terril::tile::{LayerRequest, render};

fn catalog() -> Catalog {
    Catalog::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
        .expect("geodata loads")
}

/// Every tile at zoom `z` over the territory's bounds.
fn tiles_over(catalog: &Catalog, z: u8) -> Vec<TileCoord> {
    let [w, s, e, n] = catalog.bounds().unwrap();
    let a = TileCoord::containing(w, n, z);
    let b = TileCoord::containing(e, s, z);
    (a.x..=b.x)
        .flat_map(|x| (a.y..=b.y).map(move |y| TileCoord { z, x, y }))
        .collect()
}

fn tiles(c: &mut Criterion) {
    let catalog = catalog();
    let layers: Vec<LayerRequest<'_>> = catalog
        .layers()
        .iter()
        .map(|l| LayerRequest::from(l.as_ref()))
        .collect();
    let mut group = c.benchmark_group("render");
    for z in [6u8, 10, 12, 14] {
        let coords = tiles_over(&catalog, z);
        // One iteration renders every tile of the zoom over the territory, in a fixed order.
        group.bench_function(format!("z{z} ({} tiles)", coords.len()), |b| {
            b.iter(|| {
                for &coord in &coords {
                    black_box(render(&layers, coord).unwrap());
                }
            });
        });
    }
    group.finish();
}

fn queries(c: &mut Criterion) {
    let catalog = catalog();
    let communes = catalog.layer("communes").unwrap();
    let tourism = catalog.layer("tourism").unwrap();
    let zones = catalog.layer("zones").unwrap();
    let infra = catalog.layer("infrastructure").unwrap();
    let junctions = Filter::new("kind = 'motorway_junction'", FilterLang::Text, infra).unwrap();
    // The Gare de Lens.
    let (lon, lat) = (2.8270, 50.4277);
    let mut group = c.benchmark_group("query");
    group.bench_function("at: commune of a point", |b| {
        b.iter(|| black_box(at(communes, black_box(lon), lat, None)))
    });
    group.bench_function("within 3 km: communes", |b| {
        b.iter(|| {
            black_box(within(
                communes,
                black_box(lon),
                lat,
                3_000.0,
                None,
                usize::MAX,
            ))
        })
    });
    group.bench_function("within 3 km: tourism", |b| {
        b.iter(|| {
            black_box(within(
                tourism,
                black_box(lon),
                lat,
                3_000.0,
                None,
                usize::MAX,
            ))
        })
    });
    group.bench_function("nearest 3: tourism", |b| {
        b.iter(|| {
            black_box(nearest(
                tourism,
                black_box(lon),
                lat,
                3,
                None,
                f64::INFINITY,
            ))
        })
    });
    group.bench_function("nearest 3: communes", |b| {
        b.iter(|| {
            black_box(nearest(
                communes,
                black_box(lon),
                lat,
                3,
                None,
                f64::INFINITY,
            ))
        })
    });
    group.bench_function("near 2 km: zones near motorway junctions", |b| {
        b.iter(|| {
            black_box(near(
                zones,
                None,
                infra,
                Some(&junctions),
                black_box(2_000.0),
            ))
        })
    });
    group.bench_function("filter: compile a CQL2 filter", |b| {
        b.iter(|| {
            black_box(
                Filter::new(
                    black_box("population > 10000 AND name LIKE 'L%'"),
                    FilterLang::Text,
                    communes,
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, tiles, queries);
criterion_main!(benches);
