"""Read a PMTiles archive with the third-party `pmtiles` package and print, as JSON, its header,
its metadata, how many tiles it holds, and one tile decoded by `mapbox-vector-tile` (as
`decode_mvt.py` prints it):
`python read_pmtiles.py ARCHIVE Z X Y`."""

import gzip
import json
import sys

from decode_mvt import readable
from pmtiles.reader import MmapSource, Reader, all_tiles


def main() -> None:
    path, z, x, y = sys.argv[1], *map(int, sys.argv[2:5])
    with open(path, "rb") as f:
        source = MmapSource(f)
        reader = Reader(source)
        header = reader.header()
        data = reader.get(z, x, y)
        if data is not None and header["tile_compression"].name == "GZIP":
            data = gzip.decompress(data)
        tile = readable(data) if data else None
        out = {
            "header": {k: (v.name if hasattr(v, "name") else v) for k, v in header.items()},
            "metadata": reader.metadata(),
            "tiles": sum(1 for _ in all_tiles(source)),
            "tile": tile,
        }
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
