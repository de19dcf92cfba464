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
