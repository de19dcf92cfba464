"""Decode a Mapbox Vector Tile read from stdin into readable JSON on stdout.

Uses the third-party `mapbox-vector-tile` package (not Terril's encoder), so that tests check
Terril's tiles with a reader nobody here wrote. Coordinates stay in tile units, y pointing down
as in the MVT grid.
"""

import json
import sys

import mapbox_vector_tile


def readable(data: bytes) -> dict:
    """A tile's layers and features as plain JSON, coordinates in tile units (y down)."""
    tile = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    out = {}
    for name, layer in tile.items():
        out[name] = {
            "extent": layer["extent"],
            "version": layer["version"],
            "features": [
                {
                    "id": f.get("id"),
                    "properties": f["properties"],
                    "type": f["geometry"]["type"],
                    "coordinates": f["geometry"]["coordinates"],
                }
                for f in layer["features"]
            ],
        }
    return out


def main() -> None:
    out = readable(sys.stdin.buffer.read())
    json.dump(out, sys.stdout, ensure_ascii=False, sort_keys=True, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
