//! The `terril` binary: `check` on good and broken data.

use std::process::Command;

use crate::support::fixtures;

#[test]
fn check_summarises_every_layer() {
    let out = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data"])
        .arg(fixtures())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("squares — 3 feature(s)"), "{stdout}");
    assert!(stdout.contains("geometry: Polygon"), "{stdout}");
    assert!(stdout.contains("roads — 2 feature(s)"), "{stdout}");
    assert!(
        stdout.contains("geometry: LineString, MultiLineString"),
        "{stdout}"
    );
    assert!(
        stdout.contains("height_m: number")
            && stdout.contains("visitors: integer")
            && stdout.contains("open: boolean"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: 3 layer(s), 7 feature(s)"), "{stdout}");
}

#[test]
fn check_names_the_file_feature_and_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["check", "--data"])
        .arg(fixtures().join("bad"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "broken.geojson: feature #1 (id \"open-ring\"): polygon ring 0: ring is not closed"
        ),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_broken_data_and_names_the_problem() {
    let out = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(fixtures().join("bad"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("open-ring"));
}

/// `terril export` writes a PMTiles archive that the third-party `pmtiles` reader opens: the
/// header has the zooms and bounds, the metadata lists the layers, and a tile decodes to what
/// the server serves for it.
#[tokio::test]
async fn export_writes_a_pmtiles_archive_that_others_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixtures.pmtiles");
    let status = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["export", "--maxzoom", "10", "--data"])
        .arg(fixtures())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("tiles with content"), "{stdout}");

    let read = Command::new(crate::support::python())
        .arg(crate::support::root().join("tests/tools/read_pmtiles.py"))
        .arg(&out)
        .args(["8", "128", "127"])
        .output()
        .expect("python3 with pmtiles (tests/requirements.txt)");
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let archive: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(archive["header"]["min_zoom"], 0);
    assert_eq!(archive["header"]["max_zoom"], 10);
    assert_eq!(archive["header"]["tile_type"], "MVT");
    assert!((archive["header"]["min_lon_e7"].as_f64().unwrap() / 1e7 - -0.2).abs() < 1e-6);
    let layers: Vec<&str> = archive["metadata"]["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["squares", "roads", "sites"]);
    assert!(archive["tiles"].as_u64().unwrap() > 10);

    let server = crate::support::start_fixtures().await;
    let served = crate::support::decode_mvt(
        &crate::support::tile_bytes(&server, "/tiles/8/128/127.mvt").await,
    );
    assert_eq!(
        archive["tile"], served,
        "the archived tile is the served tile"
    );
}

/// `--bbox` takes the comma form the help shows (a negative west included), and an archive
/// name that is neither `.pmtiles` nor `.mbtiles` is refused before anything is written.
#[test]
fn export_takes_a_comma_bbox_and_refuses_other_archive_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("box.pmtiles");
    let run = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args([
            "export",
            "--maxzoom",
            "6",
            "--bbox",
            "-0.3,-0.2,0.3,0.2",
            "--data",
        ])
        .arg(fixtures())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.is_file());

    let wrong = dir.path().join("box.geojson");
    let run = Command::new(env!("CARGO_BIN_EXE_terril"))
        .args(["export", "--data"])
        .arg(fixtures())
        .arg("--out")
        .arg(&wrong)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("*.pmtiles or *.mbtiles"));
    assert!(!wrong.exists(), "nothing written under the refused name");
}
