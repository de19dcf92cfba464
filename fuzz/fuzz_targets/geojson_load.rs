//! Fuzzes GeoJSON loading: any bytes either load into valid features (then into a layer with
//! its index, per-zoom simplification and a rendered tile) or are refused with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terril::config::LayerConfig;
use terril::layer::{Layer, parse_features};
use terril::mercator::TileCoord;
use terril::tile::{LayerRequest, render};

fuzz_target!(|data: &[u8]| {
    match parse_features("fuzz.geojson", data) {
        Ok(features) => {
            let config = LayerConfig {
                maxzoom: 6,
                label: Some("name".into()),
                ..LayerConfig::named("f")
            };
            let layer = Layer::new(config, features);
            let Some([w, s, e, n]) = layer.bounds else {
                return;
            };
            for z in [0u8, 3, 6] {
                let tile = TileCoord::containing((w + e) / 2.0, (s + n) / 2.0, z);
                let _ = render(&[LayerRequest::from(&layer)], tile);
            }
        }
        Err(e) => assert!(!e.problem.is_empty()),
    }
});
