//! Resources for web maps: MapLibre styles, SDF glyph ranges, sprite sheets and the map app.
//!
//! Everything here is built into the binary — no file is read from disk at request time, so no
//! request path can reach the file system.

pub mod glyphs;
pub mod sprites;
pub mod styles;
pub mod web;
