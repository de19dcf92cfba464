//! Filters evaluated on a small layer: every operator, the three-valued logic, and the errors.

use super::*;
use crate::data::config::LayerConfig;

fn layer() -> Layer {
    let text = r#"{"type":"FeatureCollection","features":[
      {"type":"Feature","id":"a","properties":{"name":"Liévin","population":30785,"density":2401.3,"big":true,"theme":"CULTURE","tags":["x","y"],"opened":"2012-12-04"},"geometry":{"type":"Point","coordinates":[2.78,50.42]}},
      {"type":"Feature","id":"b","properties":{"name":"Lens","population":31415,"density":2687.1,"big":true,"theme":"MEMOIRE","tags":["y"],"opened":"2015-06-01"},"geometry":{"type":"Point","coordinates":[2.83,50.43]}},
      {"type":"Feature","id":"c","properties":{"name":"Angres","population":4300,"big":false,"theme":null},"geometry":{"type":"Polygon","coordinates":[[[2.7,50.3],[2.8,50.3],[2.8,50.4],[2.7,50.3]]]}}
    ]}"#;
    Layer::from_geojson(
        LayerConfig {
            maxzoom: 10,
            ..LayerConfig::named("t")
        },
        "t",
        text.as_bytes(),
    )
    .unwrap()
}

fn ids_lang(l: &Layer, text: &str, lang: FilterLang) -> Vec<String> {
    let f = Filter::new(text, lang, &Schema::of_layer(l)).unwrap_or_else(|e| panic!("{text}: {e}"));
    let eval = f.evaluator();
    l.features
        .iter()
        .filter(|x| eval.matches(x))
        .map(|x| x.id.to_string())
        .collect()
}

fn ids(l: &Layer, text: &str) -> Vec<String> {
    ids_lang(l, text, FilterLang::Text)
}

fn error(l: &Layer, text: &str) -> String {
    Filter::new(text, FilterLang::Text, &Schema::of_layer(l))
        .unwrap_err()
        .0
}

#[test]
fn comparisons_logic_and_functions() {
    let l = layer();
    assert_eq!(ids(&l, "theme = 'MEMOIRE'"), ["b"]);
    assert_eq!(
        ids(&l, "population > 10000 AND NOT big = false"),
        ["a", "b"]
    );
    assert_eq!(
        ids(&l, "population < 5000 OR theme = 'CULTURE'"),
        ["a", "c"]
    );
    assert_eq!(ids(&l, "name LIKE 'L%'"), ["a", "b"]);
    assert_eq!(ids(&l, "name LIKE 'L_ns'"), ["b"]);
    assert_eq!(ids(&l, "ACCENTI(name) = 'Lievin'"), ["a"]);
    assert_eq!(ids(&l, "CASEI(name) = CASEI('LENS')"), ["b"]);
    assert_eq!(
        ids(&l, "ACCENTI(CASEI(name)) LIKE CASEI(ACCENTI('LIÉ%'))"),
        ["a"]
    );
    assert_eq!(ids(&l, "theme IN ('CULTURE', 'NATURE')"), ["a"]);
    assert_eq!(ids(&l, "CASEI(theme) IN (CASEI('culture'), 'x')"), ["a"]);
    assert_eq!(ids(&l, "population IN (4000 + 300, 1)"), ["c"]);
    assert_eq!(ids(&l, "population BETWEEN 4000 AND 31000"), ["a", "c"]);
    assert_eq!(ids(&l, "theme IS NULL"), ["c"]);
    assert_eq!(ids(&l, "density IS NULL"), ["c"]);
    assert_eq!(ids(&l, "population * 2 > 62000"), ["b"]);
    assert_eq!(ids(&l, "population div 1000 = 31"), ["b"]);
    assert_eq!(ids(&l, "id = 'c'"), ["c"]);
    assert_eq!(ids(&l, "big"), ["a", "b"]);
    assert_eq!(ids(&l, "population > density * 12.5"), ["a"]);
    assert_eq!(ids(&l, "CASEI(name) <> CASEI(theme)"), ["a", "b"]);
}

/// Comparisons with a missing value are unknown, and NOT unknown is still unknown.
#[test]
fn three_valued_logic() {
    let l = layer();
    assert_eq!(ids(&l, "theme <> 'CULTURE'"), ["b"]);
    assert_eq!(ids(&l, "NOT theme = 'CULTURE'"), ["b"]);
    assert_eq!(ids(&l, "NOT theme IN ('CULTURE')"), ["b"]);
    assert_eq!(ids(&l, "density > 2500"), ["b"]);
    assert_eq!(ids(&l, "NOT density > 2500"), ["a"]);
    assert_eq!(ids(&l, "density > 2500 OR big = false"), ["b", "c"]);
    // Unknown AND false is false, so its negation holds for c.
    assert_eq!(ids(&l, "NOT (density > 2500 AND big = true)"), ["a", "c"]);
    assert_eq!(ids(&l, "NOT (density > 2500 OR big = false)"), ["a"]);
    assert_eq!(ids(&l, "theme = NULL"), Vec::<String>::new());
    assert_eq!(ids(&l, "NOT theme LIKE 'C%'"), ["b"]);
}

#[test]
fn spatial_temporal_and_arrays() {
    let l = layer();
    assert_eq!(ids(&l, "S_INTERSECTS(geometry, POINT(2.83 50.43))"), ["b"]);
    assert_eq!(
        ids(&l, "S_WITHIN(geom, BBOX(2.75, 50.40, 2.9, 50.5))"),
        ["a", "b"]
    );
    assert_eq!(
        ids(&l, "S_CONTAINS(BBOX(2.75, 50.40, 2.9, 50.5), geometry)"),
        ["a", "b"]
    );
    assert_eq!(ids(&l, "S_CONTAINS(geometry, POINT(2.75 50.32))"), ["c"]);
    assert_eq!(
        ids(
            &l,
            "S_DISJOINT(geometry, POLYGON((2.7 50.3, 2.8 50.3, 2.8 50.4, 2.7 50.3)))"
        ),
        ["a", "b"]
    );
    assert_eq!(
        ids(&l, "S_INTERSECTS(geometry, BBOX(170, 50, -170, 51))"),
        Vec::<String>::new()
    );
    assert_eq!(ids(&l, "T_AFTER(opened, DATE('2013-01-01'))"), ["b"]);
    assert_eq!(
        ids(&l, "T_DURING(opened, INTERVAL('2012-01-01', '2014-01-01'))"),
        ["a"]
    );
    assert_eq!(
        ids(
            &l,
            "T_INTERSECTS(opened, INTERVAL('2015-06-01T12:00:00Z', '..'))"
        ),
        ["b"]
    );
    assert_eq!(ids(&l, "opened > DATE('2013-01-01')"), ["b"]);
    assert_eq!(ids(&l, "opened < '2013-01-01'"), ["a"]);
    assert_eq!(ids(&l, "A_CONTAINS(tags, ('y'))"), ["a", "b"]);
    assert_eq!(ids(&l, "A_EQUALS(tags, ('x', 'y'))"), ["a"]);
    assert_eq!(ids(&l, "A_CONTAINEDBY(tags, ('y', 'z'))"), ["b"]);
    assert_eq!(ids(&l, "A_OVERLAPS(tags, ('x', 'z'))"), ["a"]);
}

#[test]
fn json_filters() {
    let l = layer();
    assert_eq!(
        ids_lang(
            &l,
            r#"{"op":"=","args":[{"property":"theme"},"MEMOIRE"]}"#,
            FilterLang::Json
        ),
        ["b"]
    );
    assert_eq!(
        ids_lang(
            &l,
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[2.78,50.42]}]}"#,
            FilterLang::Json
        ),
        ["a"]
    );
    assert_eq!(
        ids_lang(
            &l,
            r#"{"op":"t_before","args":[{"property":"opened"},{"timestamp":"2013-01-01T00:00:00Z"}]}"#,
            FilterLang::Json
        ),
        ["a"]
    );
}

#[test]
fn errors_point_at_the_problem() {
    let l = layer();
    assert!(error(&l, "colour = 'red'").contains("\"colour\" is not a queryable"));
    assert!(error(&l, "population = 'many'").contains("type mismatch"));
    assert!(error(&l, "name > 3").contains("type mismatch"));
    assert!(error(&l, "population LIKE 'x%'").contains("LIKE needs a string"));
    assert!(error(&l, "theme = ").contains("syntax error"));
    assert!(error(&l, "S_INTERSECTS(geometry, POINT(200 50))").contains("lon/lat"));
    assert!(error(&l, "S_INTERSECTS(name, POINT(2 50))").contains("feature geometry"));
    assert!(error(&l, "FOO(name) = 1").contains("unknown function"));
    assert!(error(&l, "((big = true)").contains("syntax error"));
    assert!(error(&l, "big = true)").contains("syntax error"));
    assert!(error(&l, &format!("name = '{}'", "x".repeat(MAX_FILTER_BYTES))).contains("limit"));
    assert!(FilterLang::parse(Some("sql")).is_err());
    // Brackets inside strings are text.
    assert_eq!(
        ids(&l, "name <> '((((((((((((' AND name LIKE '%)'"),
        Vec::<String>::new()
    );
    // Deep but balanced nesting is fine: no cap on parentheses short of the depth limit.
    let deep = format!("{}big = true{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(ids(&l, &deep), ["a", "b"]);
}

/// The longest chains the size limit lets through are refused with a message, never a
/// stack overflow.
#[test]
fn deep_chains_fail_cleanly() {
    let l = layer();
    let budget = MAX_FILTER_BYTES - 16;
    for text in [
        format!("{}big = true", "NOT ".repeat(budget / 4)),
        format!("population = {}", vec!["1"; budget / 2].join("+")),
        format!("population = {}1", "-".repeat(budget)),
        vec!["big = true"; budget / 16].join(" AND "),
        vec!["big = true"; budget / 15].join(" OR "),
    ] {
        assert!(text.len() <= MAX_FILTER_BYTES);
        if let Err(FilterError(e)) = Filter::new(&text, FilterLang::Text, &Schema::of_layer(&l)) {
            assert!(
                e.contains("deeper") || e.contains("syntax"),
                "{}: {e}",
                &text[..40]
            );
        }
    }
}
