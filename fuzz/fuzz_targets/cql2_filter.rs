//! Fuzzes CQL2 text filters: parsed and compiled against a layer with every property type, then
//! evaluated on its features. Any input either compiles or is refused with a message.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use terril::config::LayerConfig;
use terril::layer::{Layer, parse_features};
use terril::query::filter::{Filter, FilterLang};

static LAYER: LazyLock<Layer> = LazyLock::new(|| {
    let text = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","id":"a","properties":{"name":"Liévin","population":30785,"density":2401.3,"big":true,"theme":"CULTURE","tags":[1,2]},"geometry":{"type":"Point","coordinates":[2.78,50.42]}},
      {"type":"Feature","id":"b","properties":{"name":"Lens","population":31415,"big":false,"theme":null},"geometry":{"type":"Polygon","coordinates":[[[2.7,50.3],[2.8,50.3],[2.8,50.4],[2.7,50.3]]]}},
      {"type":"Feature","id":"c","properties":{"name":"A21"},"geometry":{"type":"LineString","coordinates":[[2.7,50.3],[2.9,50.5]]}}
    ]}"#;
    Layer::new(
        LayerConfig::named("t"),
        parse_features("t", text.as_bytes()).unwrap(),
    )
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for lang in [FilterLang::Text, FilterLang::Json] {
        match Filter::new(text, lang, &LAYER) {
            Ok(filter) => {
                for feature in &LAYER.features {
                    let _ = filter.matches(feature);
                }
            }
            Err(e) => assert!(!e.0.is_empty()),
        }
    }
});
