//! Build steps: rebuild when the embedded data, styles or map app change, and fetch MapLibre GL
//! JS from the npm registry (pinned by `web/package-lock.json`) into `OUT_DIR/maplibre`, with
//! brotli (quality 11) and gzip copies of each file so that the server never compresses them.
//!
//! Without npm the build still succeeds: `TERRIL_MAPLIBRE_MISSING` carries the reason and the
//! server shows it on the map page instead of a broken map.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: &[&str] = &[
    "maplibre-gl.mjs",
    "maplibre-gl-worker.mjs",
    "maplibre-gl.css",
];

fn main() {
    for path in [
        "geodata",
        "styles",
        "web/src",
        "web/package.json",
        "web/package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("maplibre");
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    if let Err(reason) = fetch_maplibre(&out) {
        println!("cargo:warning=the map page will say MapLibre GL JS is missing: {reason}");
        println!("cargo:rustc-env=TERRIL_MAPLIBRE_MISSING={reason}");
        // Try again when the environment changes (e.g. npm was installed).
        println!("cargo:rerun-if-env-changed=PATH");
        for file in FILES.iter().chain(&["LICENSE.txt"]) {
            std::fs::write(out.join(file), b"").expect("OUT_DIR is writable");
        }
        for file in FILES {
            for ext in ["br", "gz"] {
                std::fs::write(out.join(format!("{file}.{ext}")), b"")
                    .expect("OUT_DIR is writable");
            }
        }
    }
}

/// Copies MapLibre's ES module build into `out`, installing it with `npm ci` when needed.
fn fetch_maplibre(out: &Path) -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let web = manifest.join("web");
    // A developer's own `npm ci` in web/ is used as it is.
    let mut dist = web.join("node_modules/maplibre-gl/dist");
    if !dist.join(FILES[0]).is_file() {
        let npm_dir = out.parent().ok_or("OUT_DIR has no parent")?.join("npm");
        std::fs::create_dir_all(&npm_dir).map_err(|e| e.to_string())?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(web.join(file), npm_dir.join(file))
                .map_err(|e| format!("web/{file}: {e}"))?;
        }
        let status = Command::new("npm")
            .args([
                "ci",
                "--omit=dev",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&npm_dir)
            .status()
            .map_err(|e| format!("npm could not be run ({e})"))?;
        if !status.success() {
            return Err(format!("npm ci failed ({status})"));
        }
        dist = npm_dir.join("node_modules/maplibre-gl/dist");
    }
    for file in FILES {
        let bytes = std::fs::read(dist.join(file)).map_err(|e| format!("{file}: {e}"))?;
        std::fs::write(out.join(file), &bytes).map_err(|e| format!("{file}: {e}"))?;
        std::fs::write(out.join(format!("{file}.br")), brotli(&bytes))
            .map_err(|e| format!("{file}.br: {e}"))?;
        std::fs::write(out.join(format!("{file}.gz")), gzip(&bytes))
            .map_err(|e| format!("{file}.gz: {e}"))?;
    }
    std::fs::copy(dist.join("../LICENSE.txt"), out.join("LICENSE.txt"))
        .map_err(|e| format!("LICENSE.txt: {e}"))?;
    Ok(())
}

/// Brotli at its best quality (the files change only with the pinned MapLibre version).
fn brotli(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::with_capacity(bytes.len() / 3);
    {
        let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        enc.write_all(bytes).expect("writing to a Vec cannot fail");
    }
    out
}

/// Gzip at its best level.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}
