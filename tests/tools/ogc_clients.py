"""Reads a Terril server with current third-party OGC clients and checks what they get:

    python3 tests/tools/ogc_clients.py BASE_URL

- GDAL as bundled in the `pyogrio` wheel (3.12): every collection through the OAPIF driver with
  its defaults (count and properties against the server's own numberMatched); the communes
  asked for in EPSG:2154 through the driver's CRS open option, each vertex compared with what
  PROJ (Debian's `gdaltransform`) makes of the CRS84 answer: within 1 cm; and the vector tiles
  of a collection through the OGCAPI driver (OGC API - Tiles).
- OWSLib: the landing page, conformance, collections, queryables and items of every collection.

Prints a JSON summary; exits non-zero (with the reason) on the first failure.
"""

import json
import subprocess
import sys
import urllib.request

import numpy as np
import pyogrio
import shapely
from owslib.ogcapi.features import Features


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}")
        sys.exit(1)


def main():
    base = sys.argv[1].rstrip("/")
    summary = {"gdal": pyogrio.__gdal_version_string__}
    collections = [c for c in fetch(f"{base}/collections")["collections"] if c.get("itemType") == "feature"]
    check(collections, "no feature collections")

    # GDAL 3.12 OAPIF, defaults.
    counts = {}
    for c in collections:
        cid = c["id"]
        expected = fetch(f"{base}/collections/{cid}/items?limit=1")["numberMatched"]
        meta, _, geometry, fields = pyogrio.raw.read(f"OAPIF:{base}", layer=cid)
        check(len(geometry) == expected, f"GDAL read {len(geometry)} of {expected} features of {cid}")
        check(all(g is not None for g in geometry) or cid == "unlocated", f"{cid}: missing geometries")
        counts[cid] = len(geometry)
    summary["oapif_counts"] = counts

    # EPSG:2154 through the driver against PROJ on the CRS84 answer.
    _, _, lambert, _ = pyogrio.raw.read(f"OAPIF:{base}", layer="communes", CRS="EPSG:2154")
    _, _, lonlat, _ = pyogrio.raw.read(f"OAPIF:{base}", layer="communes")
    a = shapely.get_coordinates(shapely.from_wkb(np.array(lambert, dtype=object)))
    b = shapely.get_coordinates(shapely.from_wkb(np.array(lonlat, dtype=object)))
    check(len(a) == len(b) and len(a) > 1000, f"{len(a)} vertices in EPSG:2154, {len(b)} in CRS84")
    proj = subprocess.run(
        ["gdaltransform", "-s_srs", "OGC:CRS84", "-t_srs", "EPSG:2154", "-output_xy"],
        input="\n".join(f"{x:.9f} {y:.9f}" for x, y in b),
        capture_output=True,
        text=True,
        check=True,
    )
    reference = np.array([[float(v) for v in line.split()] for line in proj.stdout.splitlines()])
    worst = float(np.max(np.hypot(*(a - reference).T)))
    check(worst < 0.01, f"EPSG:2154 differs from PROJ by {worst:.4f} m")
    summary["epsg2154_vertices"] = len(a)
    summary["epsg2154_worst_m"] = worst

    # GDAL 3.12 OGCAPI driver on the vector tiles of the communes (one OGR layer per zoom). The
    # driver does not project the collection's CRS84 extent to the tile matrix set's metres, so
    # the area is given in EPSG:3857, as its documentation says.
    west, south, east, north = fetch(f"{base}/collections/communes")["extent"]["spatial"]["bbox"][0]

    def mercator(lon, lat):
        r = 6378137.0
        return r * np.radians(lon), r * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))

    (minx, miny), (maxx, maxy) = mercator(west, south), mercator(east, north)
    meta, _, _, tile_fields = pyogrio.raw.read(
        f"OGCAPI:{base}/collections/communes",
        layer="Zoom level 10",
        MINX=minx, MINY=miny, MAXX=maxx, MAXY=maxy,
    )
    names = list(meta["fields"])
    check("insee" in names and "name" in names, f"tile fields: {names}")
    communes = set(tile_fields[names.index("insee")])
    check(len(communes) == counts["communes"], f"{len(communes)} communes in the z10 tiles")
    summary["ogcapi_tiles"] = {"zoom": 10, "communes": len(communes), "fields": names}

    # OWSLib with its defaults.
    api = Features(base)
    check(api.links, "OWSLib: no landing page links")
    check(any("cql2" in c for c in api.conformance()["conformsTo"]), "OWSLib: conformance")
    owslib = {}
    for c in api.collections()["collections"]:
        if c.get("itemType") != "feature":
            continue
        cid = c["id"]
        api.collection(cid)
        check("properties" in api.collection_queryables(cid), f"OWSLib: queryables of {cid}")
        page = api.collection_items(cid, limit=5)
        check(page["numberMatched"] == counts[cid], f"OWSLib: {cid} numberMatched {page['numberMatched']}")
        check(len(page["features"]) == min(5, counts[cid]), f"OWSLib: {cid} page of {len(page['features'])}")
        owslib[cid] = page["numberMatched"]
    summary["owslib"] = owslib
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
