//! MapLibre styles from `styles/*.json`, built into the binary. Their URLs are written as
//! paths (`/tiles.json`, `/fonts/{fontstack}/{range}.pbf`, `/sprites/terril`) and rewritten to
//! the server's public base URL when served.

use include_dir::{Dir, include_dir};
use serde_json::Value;

static STYLES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/styles");

/// Names of the styles (file stems of `styles/*.json`), sorted.
#[must_use]
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = STYLES
        .files()
        .filter(|f| f.path().extension().and_then(|e| e.to_str()) == Some("json"))
        .filter_map(|f| f.path().file_stem()?.to_str())
        .collect();
    names.sort_unstable();
    names
}

/// The style `name` as JSON, with its paths turned into URLs under `base`.
///
/// ```
/// let style = terril::resources::styles::style("territoire", "https://example.org").unwrap();
/// assert_eq!(style["sources"]["terril"]["url"], "https://example.org/tiles.json");
/// assert!(style["glyphs"].as_str().unwrap().starts_with("https://example.org/fonts/"));
/// ```
#[must_use]
pub fn style(name: &str, base: &str) -> Option<Value> {
    let file = STYLES.get_file(format!("{name}.json"))?;
    let mut style: Value = serde_json::from_slice(file.contents()).ok()?;
    let absolute = |v: &mut Value| {
        if let Some(path) = v.as_str().filter(|p| p.starts_with('/')) {
            *v = Value::String(format!("{base}{path}"));
        }
    };
    if let Some(sources) = style.get_mut("sources").and_then(Value::as_object_mut) {
        for source in sources.values_mut() {
            if let Some(url) = source.get_mut("url") {
                absolute(url);
            }
            if let Some(tiles) = source.get_mut("tiles").and_then(Value::as_array_mut) {
                tiles.iter_mut().for_each(absolute);
            }
            if let Some(data) = source.get_mut("data") {
                absolute(data);
            }
        }
    }
    if let Some(glyphs) = style.get_mut("glyphs") {
        absolute(glyphs);
    }
    match style.get_mut("sprite") {
        Some(Value::Array(sprites)) => sprites
            .iter_mut()
            .filter_map(|s| s.get_mut("url"))
            .for_each(absolute),
        Some(sprite) => absolute(sprite),
        None => {}
    }
    Some(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_parses_and_points_at_this_server() {
        let names = names();
        assert_eq!(names, ["planification", "territoire", "tourisme"]);
        for name in names {
            let s = style(name, "http://h").unwrap();
            assert_eq!(s["version"], 8, "{name}");
            assert_eq!(s["sprite"], "http://h/sprites/terril", "{name}");
            assert_eq!(
                s["glyphs"], "http://h/fonts/{fontstack}/{range}.pbf",
                "{name}"
            );
        }
        assert!(style("nope", "http://h").is_none());
    }
}
