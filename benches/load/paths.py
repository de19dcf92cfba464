"""Write the request lists for benches/load.sh into the folder given as the only argument.

Points are a fixed pseudo-random sample over the territory's bounds (seeded), tiles are every
tile z10-z14 over the bounds, so every run asks the same questions.
"""

import json
import math
import random
import sys
from pathlib import Path

out = Path(sys.argv[1])
catalog = json.loads(Path("geodata/pole.geojson").read_text())
lons = [c[0] for c in catalog["features"][0]["geometry"]["coordinates"][0]]
lats = [c[1] for c in catalog["features"][0]["geometry"]["coordinates"][0]]
west, east, south, north = min(lons), max(lons), min(lats), max(lats)
rng = random.Random(2016)
points = [(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(500)]


def tile(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def write(name, lines):
    (out / name).write_text("\n".join(lines) + "\n")


write("health.txt", ["/health"])
tiles = []
for z in range(10, 15):
    x0, y0 = tile(west, north, z)
    x1, y1 = tile(east, south, z)
    tiles += [f"/tiles/{z}/{x}/{y}.mvt" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
write("tiles.txt", tiles)
write("at.txt", [f"/query/at?lon={lo:.5f}&lat={la:.5f}&layers=communes" for lo, la in points])
write("within.txt", [f"/query/within?layer=communes&lon={lo:.5f}&lat={la:.5f}&radius_m=3000" for lo, la in points])
write("nearest.txt", [f"/query/nearest?layer=tourism&lon={lo:.5f}&lat={la:.5f}&k=3" for lo, la in points])
write("near.txt", ["/query/near?layer=zones&target=infrastructure&distance_m=2000&target_filter=kind%3D%27motorway_junction%27"])
