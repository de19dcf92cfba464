//! GDAL/OGR's MVT driver (Debian `gdal-bin`) reads Terril's tiles.

use std::process::Command;

use terril::mercator::lonlat_to_mercator;

use crate::support::{start_fixtures, tile_bytes};

/// Runs `ogrinfo` with `args` on a tile file; fails the test if GDAL is missing.
fn ogrinfo(args: &[&str], file: &std::path::Path) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .arg(file)
        .output()
        .expect("ogrinfo must be installed (Debian gdal-bin; see .ci/run)");
    assert!(
        out.status.success(),
        "ogrinfo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Per layer: (name, feature count, extent [minx, miny, maxx, maxy] in EPSG:3857).
fn layers(summary: &str) -> Vec<(String, usize, [f64; 4])> {
    let mut out = Vec::new();
    let mut name = String::new();
    let mut count = 0;
    for line in summary.lines() {
        if let Some(n) = line.strip_prefix("Layer name: ") {
            name = n.to_owned();
        } else if let Some(c) = line.strip_prefix("Feature Count: ") {
            count = c.parse().unwrap();
        } else if let Some(e) = line.strip_prefix("Extent: ") {
            let nums: Vec<f64> = e
                .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .filter(|s| !s.is_empty() && *s != "-")
                .map(|s| s.parse().unwrap())
                .collect();
            out.push((name.clone(), count, [nums[0], nums[1], nums[2], nums[3]]));
        }
    }
    out
}

/// Tile 8/128/127 over the fixtures: GDAL finds the three layers, their counts, their
/// attributes with types, and puts the squares where they are (lon 0–1°, lat 0–0.5°), to
/// within the tile grid (one unit is 38 m at z8).
#[tokio::test]
async fn gdal_reads_layers_attributes_and_places() {
    let server = start_fixtures().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("8/128/127.pbf");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, tile_bytes(&server, "/tiles/8/128/127.mvt").await).unwrap();

    let summary = ogrinfo(&["-ro", "-al", "-so", "-oo", "CLIP=NO"], &file);
    let found = layers(&summary);
    let names: Vec<&str> = found.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(names, ["squares", "roads", "sites"]);
    assert_eq!(found[0].1, 2);
    let (max_x, max_y) = lonlat_to_mercator(1.0, 0.5);
    let unit = 156_543.033_928 / 4096.0 * 1.5;
    let e = found[0].2;
    for (got, want) in [(e[0], 0.0), (e[1], 0.0), (e[2], max_x), (e[3], max_y)] {
        assert!((got - want).abs() < unit, "squares extent {e:?}");
    }
    // Roads are clipped at the 64-unit buffer: 2,446 m beyond the tile's west and south edges.
    assert!(
        (found[1].2[0] + 2_445.98).abs() < 1.0,
        "roads extent {:?}",
        found[1].2
    );

    let features = ogrinfo(&["-ro", "-al", "-geom=NO"], &file);
    for expected in [
        "name (String) = West square",
        "rank (Integer) = 1",
        "id (String) = hole-site",
        "visitors (Integer) = 1200",
        "height_m (Real) = 12.5",
        "ref (String) = R2",
    ] {
        assert!(
            features.contains(expected),
            "missing {expected:?} in\n{features}"
        );
    }
}
