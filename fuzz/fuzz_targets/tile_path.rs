//! Fuzzes the parsing of tile paths (`{z}/{x}/{y}.mvt`): any bytes, never a panic, and a
//! parsed tile always lies in the XYZ grid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terril::mercator::{MAX_ZOOM, TileCoord};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '/');
    let (Some(z), Some(x), Some(y)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    if let Ok(tile) = TileCoord::parse(z, x, y, "mvt") {
        assert!(tile.z <= MAX_ZOOM);
        assert!(u64::from(tile.x) < 1 << tile.z && u64::from(tile.y) < 1 << tile.z);
        let b = tile.bounds();
        assert!(b.min().x < b.max().x && b.min().y < b.max().y);
    }
});
