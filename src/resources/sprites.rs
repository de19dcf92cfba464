//! Sprite sheets (`{name}[@2x].{json,png}`) built from the SVG icons in `styles/icons/`,
//! compiled into the binary and rasterised on first use at 1× and 2×.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use include_dir::{Dir, include_dir};
use resvg::usvg;
use spreet::{Sprite, Spritesheet};

static ICONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/styles/icons");

/// The one sprite sheet served.
pub const SPRITE_NAME: &str = "terril";

/// A rendered sheet: its PNG and its JSON index.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The PNG image.
    pub png: Vec<u8>,
    /// The MapLibre sprite index (name → x, y, width, height, pixelRatio).
    pub json: Vec<u8>,
}

fn build(pixel_ratio: u8) -> Result<Sheet, String> {
    let mut sprites = BTreeMap::new();
    for file in ICONS.files() {
        let path = file.path();
        if path.extension().and_then(|e| e.to_str()) != Some("svg") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("icon name is not UTF-8")?;
        let tree = usvg::Tree::from_data(file.contents(), &usvg::Options::default())
            .map_err(|e| format!("{name}.svg: {e}"))?;
        let sprite = Sprite::new(tree, pixel_ratio)
            .ok_or_else(|| format!("{name}.svg cannot be rasterised"))?;
        sprites.insert(name.to_owned(), sprite);
    }
    let sheet = Spritesheet::build()
        .sprites(sprites)
        .spacing(2)
        .generate()
        .ok_or("the icons do not fit a sprite sheet")?;
    let png = sheet.encode_png().map_err(|e| e.to_string())?;
    let json = serde_json::to_vec(sheet.get_index()).map_err(|e| e.to_string())?;
    Ok(Sheet { png, json })
}

/// The sheet at 1× (`retina = false`) or 2×, built once.
pub fn sheet(retina: bool) -> Result<&'static Sheet, String> {
    static ONE: OnceLock<Result<Sheet, String>> = OnceLock::new();
    static TWO: OnceLock<Result<Sheet, String>> = OnceLock::new();
    let cell = if retina { &TWO } else { &ONE };
    cell.get_or_init(|| build(if retina { 2 } else { 1 }))
        .as_ref()
        .map_err(Clone::clone)
}

/// The SVG source of an icon (for legends), by name without extension.
#[must_use]
pub fn icon_svg(name: &str) -> Option<&'static [u8]> {
    let stem = name.strip_suffix(".svg")?;
    if stem.is_empty()
        || !stem
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return None;
    }
    ICONS.get_file(name).map(|f| f.contents())
}

/// Names of the icons in the sheet.
pub fn icon_names() -> Vec<String> {
    ICONS
        .files()
        .filter_map(|f| f.path().file_stem()?.to_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_size(png: &[u8]) -> (u32, u32) {
        // PNG: 8-byte signature, then the IHDR chunk with width and height, big-endian.
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
        (be(16), be(20))
    }

    #[test]
    fn retina_sheet_is_twice_the_standard_one() {
        let one = sheet(false).unwrap();
        let two = sheet(true).unwrap();
        let index_one: serde_json::Value = serde_json::from_slice(&one.json).unwrap();
        let index_two: serde_json::Value = serde_json::from_slice(&two.json).unwrap();
        let names = icon_names();
        assert!(names.len() >= 8, "{names:?}");
        for name in &names {
            let (a, b) = (&index_one[name], &index_two[name]);
            assert_eq!(a["pixelRatio"], 1);
            assert_eq!(b["pixelRatio"], 2);
            assert_eq!(
                b["width"].as_u64().unwrap(),
                2 * a["width"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                b["height"].as_u64().unwrap(),
                2 * a["height"].as_u64().unwrap(),
                "{name}"
            );
        }
        let (w1, h1) = png_size(&one.png);
        let (w2, h2) = png_size(&two.png);
        assert!(
            w2 >= 2 * w1 - 8 && h2 >= 2 * h1 - 8,
            "{w1}x{h1} vs {w2}x{h2}"
        );
    }
}
