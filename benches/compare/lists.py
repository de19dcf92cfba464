"""Request lists for benches/compare.sh, written into the folder given as first argument.

- tiles over the territory: every tile z0-z14 over the communes' bounds, plus a fixed random
  sample (seeded) at z15-z16, one file per zoom band, as `{z}/{x}/{y}` lines;
- tiles over France (national scale): every tile z5-z8 over metropolitan France, and a fixed
  random sample of 400 tiles per zoom at z9-z12 (all of them where there are fewer) over the same bounds;
- query points: 1,000 fixed random points over the territory.
"""

import json
import math
import random
import sys
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(2016)


def bounds_of(path):
    fc = json.loads(Path(path).read_text())
    xs, ys = [], []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    for f in fc["features"]:
        walk(f["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def tile(lon, lat, z):
    n = 2**z
    x = min(n - 1, max(0, int((lon + 180) / 360 * n)))
    y = min(n - 1, max(0, int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)))
    return x, y


def all_tiles(b, z):
    x0, y0 = tile(b[0], b[3], z)
    x1, y1 = tile(b[2], b[1], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def sample(b, z, count):
    everything = all_tiles(b, z)
    if len(everything) <= count:
        return everything
    tiles = set()
    while len(tiles) < count:
        lon, lat = rng.uniform(b[0], b[2]), rng.uniform(b[1], b[3])
        tiles.add((z, *tile(lon, lat, z)))
    return sorted(tiles)


def write(name, tiles):
    (out / name).write_text("".join(f"{z}/{x}/{y}\n" for z, x, y in tiles))


territory = bounds_of("geodata/communes.geojson")
bands = {"z00-z10": range(0, 11), "z11-z12": range(11, 13), "z13-z14": range(13, 15)}
for name, zooms in bands.items():
    write(f"territory-{name}.txt", [t for z in zooms for t in all_tiles(territory, z)])
write("territory-z15-z16.txt", sample(territory, 15, 300) + sample(territory, 16, 300))

france = (-5.2, 42.3, 8.3, 51.1)  # metropolitan France, without Corsica's far south
for z in range(5, 9):
    write(f"france-z{z:02}.txt", all_tiles(france, z))
for z in range(9, 13):
    write(f"france-z{z:02}.txt", sample(france, z, 400))

points = [(rng.uniform(territory[0], territory[2]), rng.uniform(territory[1], territory[3])) for _ in range(1000)]
(out / "points.txt").write_text("".join(f"{lon:.6f} {lat:.6f}\n" for lon, lat in points))
print(out)
