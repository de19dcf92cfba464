//! Fuzzes GeoJSON loading: any bytes either load into valid features (then into a layer with
//! its index, per-zoom simplification and rendered tiles) or are refused with a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terril::cancel::Cancel;
use terril::data::{Layer, LayerConfig};
use terril::mercator::TileCoord;
use terril::source::MemoryLayer;
use terril::tile::{LayerTile, render_layer};

fuzz_target!(|data: &[u8]| {
    let config = LayerConfig {
        maxzoom: 6,
        label: Some("name".into()),
        ..LayerConfig::named("f")
    };
    match Layer::from_geojson(config, "fuzz.geojson", data) {
        Ok(layer) => {
            let Some([w, s, e, n]) = layer.bounds else {
                return;
            };
            let m = MemoryLayer::build(layer);
            for z in [0u8, 3, 6] {
                let tile = TileCoord::containing((w + e) / 2.0, (s + n) / 2.0, z);
                let request = LayerTile {
                    layer: &m.data,
                    tiles: &m.tiles,
                    index: &m.index,
                    filter: None,
                };
                let _ = render_layer(request, tile, &Cancel::new(), &mut Vec::new());
            }
        }
        Err(e) => assert!(!e.problem.is_empty()),
    }
});
