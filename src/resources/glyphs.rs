//! Signed-distance-field glyph ranges (`{start}-{end}.pbf`, 256 code points) rendered from the
//! DejaVu Sans fonts built into the binary, as MapLibre's `glyphs` URL expects.
//!
//! Ranges are rendered on first use (FreeType via `pbf_font_tools`) and kept: there are at most
//! 256 ranges per font.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pbf_font_tools::prost::Message;
use pbf_font_tools::{Glyphs, freetype, glyph_range_for_face};

/// Font size, SDF radius and cutoff of the rendered glyphs: what MapLibre's own glyphs use.
const SIZE: usize = 24;
const RADIUS: usize = 8;
const CUTOFF: f64 = 0.25;

/// A served font: its name as FreeType gives it (family + style) and its TrueType bytes.
pub type Font = (&'static str, fn() -> &'static [u8]);

/// The fonts served.
pub const FONTS: &[Font] = &[
    ("DejaVu Sans Book", dejavu::sans::regular),
    ("DejaVu Sans Bold", dejavu::sans::bold),
];

/// Why a glyph range cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlyphError {
    /// The range is not `{256·k}-{256·k+255}` within 0–65535.
    #[error(
        "glyph ranges are 256 code points from a multiple of 256, e.g. 0-255, up to 65280-65535"
    )]
    BadRange,
    /// None of the fonts of the stack is served.
    #[error("no font of {0:?} is served; fonts: DejaVu Sans Book, DejaVu Sans Bold")]
    UnknownFont(String),
    /// FreeType failed.
    #[error("glyph rendering failed: {0}")]
    Render(String),
}

/// Parses `"{start}-{end}"` (with or without `.pbf`) into a checked range start.
///
/// ```
/// use terril::resources::glyphs::parse_range;
/// assert_eq!(parse_range("256-511.pbf"), Ok(256));
/// assert!(parse_range("0-256").is_err());
/// assert!(parse_range("65536-65791").is_err());
/// ```
pub fn parse_range(text: &str) -> Result<u32, GlyphError> {
    let text = text.strip_suffix(".pbf").unwrap_or(text);
    let (a, b) = text.split_once('-').ok_or(GlyphError::BadRange)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return Err(GlyphError::BadRange);
    }
    let (start, end): (u32, u32) = (
        a.parse().map_err(|_| GlyphError::BadRange)?,
        b.parse().map_err(|_| GlyphError::BadRange)?,
    );
    if start % 256 != 0 || end != start + 255 || end > 65_535 {
        return Err(GlyphError::BadRange);
    }
    Ok(start)
}

/// A font (position in [`FONTS`]) and the first code point of a range.
type RangeKey = (usize, u32);

/// Renders and caches glyph ranges.
#[derive(Default)]
pub struct GlyphCache {
    ranges: Mutex<HashMap<RangeKey, Arc<Vec<u8>>>>,
    /// FreeType is not thread-safe: one library, used under this lock.
    freetype: Mutex<Option<freetype::Library>>,
}

impl GlyphCache {
    /// The encoded `Glyphs` protobuf of `range_start..range_start+255` for the first served
    /// font of a comma-separated font stack.
    pub fn get(&self, fontstack: &str, range_start: u32) -> Result<Arc<Vec<u8>>, GlyphError> {
        let font = fontstack
            .split(',')
            .map(str::trim)
            .find_map(|name| FONTS.iter().position(|(n, _)| *n == name))
            .ok_or_else(|| GlyphError::UnknownFont(fontstack.chars().take(100).collect()))?;
        let key = (font, range_start);
        if let Some(hit) = self
            .ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(Arc::clone(hit));
        }
        let bytes = Arc::new(self.render(font, range_start)?);
        self.ranges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::clone(&bytes));
        Ok(bytes)
    }

    fn render(&self, font: usize, start: u32) -> Result<Vec<u8>, GlyphError> {
        let render_err = |e: &dyn std::fmt::Display| GlyphError::Render(e.to_string());
        let mut guard = self.freetype.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(freetype::Library::init().map_err(|e| render_err(&e))?);
        }
        let library = guard.as_ref().expect("initialised above");
        let face = library
            .new_memory_face(FONTS[font].1().to_vec(), 0)
            .map_err(|e| render_err(&e))?;
        let stack = glyph_range_for_face(&face, start, start + 255, SIZE, RADIUS, CUTOFF)
            .map_err(|e| render_err(&e))?;
        let glyphs = Glyphs {
            stacks: vec![stack],
        };
        Ok(glyphs.encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Latin-1 range holds "é" (U+00E9) and the Latin Extended-A range holds "œ" (U+0153):
    /// both render with a bitmap, so "Liévin" and "Nœux-les-Mines" can be labelled.
    #[test]
    fn accented_ranges_are_rendered() {
        let cache = GlyphCache::default();
        for (range, char) in [(0, 'é'), (256, 'œ'), (8192, '’')] {
            let bytes = cache.get("DejaVu Sans Book", range).unwrap();
            let glyphs = Glyphs::decode(bytes.as_slice()).unwrap();
            let stack = &glyphs.stacks[0];
            assert_eq!(stack.name, "DejaVu Sans Book");
            assert_eq!(stack.range, format!("{range}-{}", range + 255));
            let glyph = stack
                .glyphs
                .iter()
                .find(|g| g.id == char as u32)
                .unwrap_or_else(|| panic!("{char} missing"));
            assert!(
                glyph.bitmap.as_ref().is_some_and(|b| !b.is_empty()) && glyph.width > 0,
                "{char} has no bitmap"
            );
        }
        // A font stack is searched in order; unknown fonts are skipped.
        assert!(cache.get("Noto Sans Regular,DejaVu Sans Bold", 0).is_ok());
        assert!(matches!(
            cache.get("Comic Sans", 0),
            Err(GlyphError::UnknownFont(_))
        ));
    }
}
