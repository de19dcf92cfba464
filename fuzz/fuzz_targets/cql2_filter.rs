//! Fuzzes CQL2 text and JSON filters: parsed and compiled against a layer with every property
//! type, then evaluated on its features. Any input either compiles or is refused with a message.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use terril::data::{Layer, LayerConfig};
use terril::filter::{Filter, FilterLang, Schema};

static LAYER: LazyLock<Layer> = LazyLock::new(|| {
    let text = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","id":"a","properties":{"name":"Liévin","population":30785,"density":2401.3,"big":true,"theme":"CULTURE","tags":[1,2],"opened":"2012-12-04","at":"2022-04-16T10:13:19Z"},"geometry":{"type":"Point","coordinates":[2.78,50.42]}},
      {"type":"Feature","id":"b","properties":{"name":"Lens","population":31415,"big":false,"theme":null},"geometry":{"type":"Polygon","coordinates":[[[2.7,50.3],[2.8,50.3],[2.8,50.4],[2.7,50.3]]]}},
      {"type":"Feature","id":"c","properties":{"name":"A21"},"geometry":{"type":"LineString","coordinates":[[2.7,50.3],[2.9,50.5]]}},
      {"type":"Feature","id":"d","properties":{"name":"nowhere"},"geometry":null}
    ]}"#;
    Layer::from_geojson(LayerConfig::named("t"), "t", text.as_bytes()).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schema = Schema::of_layer(&LAYER);
    for lang in [FilterLang::Text, FilterLang::Json] {
        match Filter::new(text, lang, &schema) {
            Ok(filter) => {
                let eval = filter.evaluator();
                for feature in &LAYER.features {
                    let _ = eval.matches(feature);
                }
            }
            Err(e) => assert!(!e.0.is_empty()),
        }
    }
});
