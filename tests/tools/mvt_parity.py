"""Compares layers of Mapbox Vector Tiles, as decoded by the mapbox-vector-tile package.

Usage: mvt_parity.py DIR REFERENCE=CANDIDATE [REFERENCE=CANDIDATE ...]

DIR holds tiles named z-x-y.mvt. For each pair of layer names and each tile, the features of
the candidate layer must be those of the reference layer: the same keys (the `id` property,
else the MVT id), the same properties, and the same geometry inside the tile (the buffer is
left out): polygons compared by intersection over union, lines and points by the largest
distance between them (tile units). Prints one JSON object with a summary per pair.
"""

import json
import os
import sys

import mapbox_vector_tile
from shapely.geometry import box, shape
from shapely.validation import make_valid

TILE = box(0, 0, 4096, 4096)


def key(feature):
    props = feature["properties"]
    return str(props["id"]) if "id" in props else str(feature.get("id"))


def clipped(feature):
    geometry = make_valid(shape(feature["geometry"]))
    return geometry.intersection(TILE)


def compare(reference, candidate, where, summary):
    ref = {key(f): f for f in reference}
    cand = {key(f): f for f in candidate}
    if set(ref) != set(cand):
        summary["id_mismatches"].append(
            {
                "tile": where,
                "missing": sorted(set(ref) - set(cand))[:5],
                "extra": sorted(set(cand) - set(ref))[:5],
            }
        )
    for k in set(ref) & set(cand):
        a, b = ref[k], cand[k]
        summary["features"] += 1
        pa = {p: v for p, v in a["properties"].items()}
        pb = {p: v for p, v in b["properties"].items()}
        if pa != pb:
            summary["property_mismatches"].append({"tile": where, "id": k, "reference": pa, "candidate": pb})
        kind = a["geometry"]["type"]
        ga, gb = clipped(a), clipped(b)
        if "Polygon" in kind:
            union = ga.union(gb).area
            if union < 1.0:
                continue
            iou = ga.intersection(gb).area / union
            if iou < summary["worst_iou"]:
                summary["worst_iou"] = iou
                summary["worst_iou_at"] = f"{where} {k}"
        else:
            if ga.is_empty and gb.is_empty:
                continue
            if ga.is_empty or gb.is_empty:
                d = float("inf")
            else:
                d = ga.hausdorff_distance(gb)
            if d > summary["worst_distance"]:
                summary["worst_distance"] = d
                summary["worst_distance_at"] = f"{where} {k}"


def main():
    folder, pairs = sys.argv[1], [p.split("=") for p in sys.argv[2:]]
    summaries = {
        f"{r}={c}": {
            "tiles": 0,
            "features": 0,
            "id_mismatches": [],
            "property_mismatches": [],
            "worst_iou": 1.0,
            "worst_iou_at": None,
            "worst_distance": 0.0,
            "worst_distance_at": None,
        }
        for r, c in pairs
    }
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            decoded = mapbox_vector_tile.decode(f.read())
        where = name[: -len(".mvt")]
        for r, c in pairs:
            summary = summaries[f"{r}={c}"]
            summary["tiles"] += 1
            compare(
                decoded.get(r, {}).get("features", []),
                decoded.get(c, {}).get("features", []),
                where,
                summary,
            )
    for summary in summaries.values():
        summary["id_mismatches"] = summary["id_mismatches"][:10]
        summary["property_mismatches"] = summary["property_mismatches"][:10]
        if summary["worst_distance"] == float("inf"):
            summary["worst_distance"] = 1e9
    print(json.dumps(summaries))


if __name__ == "__main__":
    main()
