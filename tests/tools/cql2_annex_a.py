"""Runs every predicate of the CQL2 standard's Annex A tables (tests/cql2/annex_a.tsv) against a
Terril server holding the standard's test data (ne110m4cql2):

    python3 tests/tools/cql2_annex_a.py BASE_URL tests/cql2/annex_a.tsv

Each predicate is sent as CQL2 Text and as CQL2 JSON (converted by the third-party `cql2`
package) to /collections/{id}/items, and its numberMatched compared with the table's count; then
as a tile filter on z0, whose features must be exactly the unfiltered z0 tile's features that
the items answer selected. Prints one summary line per class ("class: passed/total") and every
failure; exits 1 on any failure.

Three rows of Table 11 carry counts that the standard's own data contradicts (reported in the
public ogcapi-features repository, issue #1011, still open): for those the count expected is the
one that issue gives, with the feature names it lists.
"""

import collections
import csv
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import cql2
import mapbox_vector_tile

# ogcapi-features issue #1011: Chișinău, Chicago and Chengdu start with "Ch" once accents are
# removed; only Chișinău starts with "chis" once case and accents are removed.
ERRATA = {
    "ACCENTI(name) LIKE accenti('Ch%')": 3,
    "ACCENTI(CASEI(name)) LIKE accenti(casei('Chiș%'))": 1,
    "ACCENTI(CASEI(name)) LIKE accenti(casei('cHis%'))": 1,
}


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def items(base, collection, text, lang):
    query = urllib.parse.urlencode({"filter": text, "filter-lang": lang, "limit": 10000})
    status, body = get(f"{base}/collections/{collection}/items?{query}")
    if status != 200:
        return None, f"HTTP {status}: {body[:200]!r}"
    doc = json.loads(body)
    ids = {f["id"] for f in doc["features"]}
    if doc["numberMatched"] != len(ids):
        return None, f"numberMatched {doc['numberMatched']} but {len(ids)} features"
    return ids, None


def tile_ids(base, collection, text=None):
    query = "?" + urllib.parse.urlencode({"filter": text}) if text is not None else ""
    status, body = get(f"{base}/tiles/{collection}/0/0/0.mvt{query}")
    if status == 204:
        return set()
    if status != 200:
        raise RuntimeError(f"tile HTTP {status}: {body[:200]!r}")
    layer = mapbox_vector_tile.decode(body).get(collection, {"features": []})
    return {str(f["id"]) for f in layer["features"]}


def main():
    base, table = sys.argv[1].rstrip("/"), sys.argv[2]
    with open(table, encoding="utf-8") as f:
        rows = list(csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t", quoting=csv.QUOTE_NONE))
    passed, total, failures = collections.Counter(), collections.Counter(), []
    unfiltered = {}
    for row in rows:
        cls, collection, text = row["class"], row["collection"], row["cql2_text"]
        expected = ERRATA.get(text, int(row["count"]))
        total[cls] += 1
        problems = []
        as_json = json.dumps(cql2.Expr(text).to_json(), ensure_ascii=False)
        selected = None
        for lang, filter_text in (("cql2-text", text), ("cql2-json", as_json)):
            ids, error = items(base, collection, filter_text, lang)
            if error:
                problems.append(f"{lang}: {error}")
            elif len(ids) != expected:
                problems.append(f"{lang}: {len(ids)} matched, {expected} expected")
            elif selected is None:
                selected = ids
            elif ids != selected:
                problems.append("text and JSON select different features")
        if selected is not None:
            if collection not in unfiltered:
                unfiltered[collection] = tile_ids(base, collection)
            want = unfiltered[collection] & selected
            got = tile_ids(base, collection, text)
            if got != want:
                problems.append(f"tile 0/0/0: {len(got)} features, {len(want)} expected")
        if problems:
            failures.append(f"{cls} | {collection} | {text} | " + "; ".join(problems))
        else:
            passed[cls] += 1
    for cls in total:
        print(f"{cls}: {passed[cls]}/{total[cls]}")
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
