// The map's words in French (the default) and English: interface text, legends, theme and kind
// names, field labels and MapLibre's own controls. Data (site and commune names, notes) is not
// translated: elements that show it carry lang="fr".

export const LANGUAGES = ['fr', 'en'];

const FR = {
  'page.title': "Terril — carte du Pôle Métropolitain de l'Artois",
  'page.description': "Carte interactive du Pôle Métropolitain de l'Artois : communes, agglomérations, zones économiques, campus, sites touristiques et infrastructures.",
  'views.label': 'Vues de la carte',
  'view.territoire': 'Territoire',
  'view.tourisme': 'Tourisme',
  'view.planification': 'Planification',
  'search.label': 'Rechercher une commune ou un site',
  'search.placeholder': 'Rechercher une commune ou un site…',
  'search.results': 'Résultats de la recherche',
  'lang.switch': 'English',
  'lang.switchLabel': 'Show the map in English',
  'panel.toggle': 'Outils',
  'panel.label': 'Légende et outils',
  'map.label': 'Carte du territoire',
  'actions.title': 'Partager',
  'actions.png': 'Image PNG',
  'actions.print': 'Imprimer',
  'actions.embed': 'Intégrer cette carte',
  'legend.title': 'Légende',
  'legend.density': 'Densité de population (habitants/km²)',
  'legend.density.1': 'moins de 250',
  'legend.density.2': '250 – 500',
  'legend.density.3': '500 – 1 000',
  'legend.density.4': '1 000 – 2 000',
  'legend.density.5': '2 000 et plus',
  'legend.epci': 'Agglomération (2016)',
  'legend.pole': 'Pôle Métropolitain',
  'legend.a21': 'A21, Rocade minière (tracé approché)',
  'legend.zone': 'Zone économique',
  'legend.campus': 'Campus',
  'legend.station': 'Gare',
  'legend.junction': 'Échangeur',
  'legend.motorwayJunction': 'Échangeur autoroutier',
  'legend.port': 'Port fluvial',
  'legend.canal': 'Canal',
  'legend.quality': 'Précision de la position des sites',
  'archives.title': 'Archives de tuiles',
  'themes.title': 'Thèmes de la destination',
  'destinations.title': 'Destinations',
  'destinations.hint': 'Les sites visibles sur la carte, par thème. Choisissez-en un pour ouvrir sa fiche.',
  'destinations.none': 'Aucun site de ces thèmes dans la partie visible de la carte.',
  'destinations.count': (n) => `${n} site${n > 1 ? 's' : ''}`,
  'planner.title': "Zones proches d'une infrastructure",
  'planner.layer': 'Couche',
  'planner.target': 'Infrastructure',
  'planner.distance': 'Distance (m)',
  'planner.search': 'Chercher',
  'planner.geojson': 'Télécharger en GeoJSON',
  'planner.csv': 'Télécharger en CSV',
  'planner.summary': (n, d) => `${n} résultat${n > 1 ? 's' : ''} à moins de ${d}.`,
  'planner.caption': 'Résultats, triables par colonne',
  'planner.layer.zones': 'Zones économiques',
  'planner.layer.campuses': 'Campus',
  'planner.layer.tourism': 'Sites touristiques',
  'attribution.sites': 'sites : Wikipédia et sources citées',
  'planner.target.motorway_junction': 'Échangeurs autoroutiers',
  'planner.target.rail_station': 'Gares en service',
  'planner.target.canal': 'Canal de Lens',
  'col.name': 'Nom',
  'col.kind': 'Type',
  'col.commune': 'Commune',
  'col.target': 'Infrastructure la plus proche',
  'col.distance': 'Distance',
  'sort.hint': 'trier',
  'around.title': "Autour d'ici",
  'around.hint': 'Choisissez un rayon, puis cliquez sur la carte.',
  'around.radius': 'Rayon',
  'around.pick': 'Choisir un point',
  'around.summary': (n, d) => `${n} élément${n > 1 ? 's' : ''} à moins de ${d} :`,
  'around.none': (d) => `Rien à moins de ${d}.`,
  'measure.title': 'Mesurer une distance',
  'measure.start': 'Mesurer',
  'measure.clear': 'Effacer',
  'measure.hint': 'Cliquez sur la carte pour poser des points (ou Entrée sur la carte : son centre). Échap pour finir.',
  'measure.total': (d, n) => `Distance : ${d} (${n} point${n > 1 ? 's' : ''})`,
  'searching': 'Recherche…',
  'loading': 'Chargement…',
  'error': (m) => `Erreur : ${m}`,
  'card.layer': 'Couche',
  'card.details': 'Position, source et détails',
  'card.link': 'Copier le lien',
  'card.linkCopied': 'Lien copié',
  'card.note': 'Note',
  'copy.failed': 'Le navigateur refuse la copie : le texte est sélectionné, copiez-le avec Ctrl+C.',
  'embed.title': 'Intégrer cette carte',
  'embed.intro': 'Pour la vue et la position affichées. Ces codes marchent depuis tout autre site : Terril autorise les requêtes d’autres origines.',
  'embed.iframe': 'Cadre (iframe) de la carte',
  'embed.snippet': 'Carte MapLibre GL JS avec le style de Terril',
  'embed.tilejson': 'TileJSON des couches',
  'embed.style': 'Style MapLibre',
  'embed.copy': 'Copier',
  'embed.copied': 'Copié',
  'embed.close': 'Fermer',
  'embed.frameTitle': "Carte du Pôle Métropolitain de l'Artois",
  'print.title': (view) => `Pôle Métropolitain de l'Artois — ${view}`,
  'yes': 'oui',
  'no': 'non',
};

const EN = {
  'page.title': "Terril — map of the Pôle Métropolitain de l'Artois",
  'page.description': "Interactive map of the Pôle Métropolitain de l'Artois: communes, conurbations, business zones, campuses, tourist sites and infrastructure.",
  'views.label': 'Map views',
  'view.territoire': 'Territory',
  'view.tourisme': 'Tourism',
  'view.planification': 'Planning',
  'search.label': 'Search for a commune or a site',
  'search.placeholder': 'Search for a commune or a site…',
  'search.results': 'Search results',
  'lang.switch': 'Français',
  'lang.switchLabel': 'Afficher la carte en français',
  'panel.toggle': 'Tools',
  'panel.label': 'Legend and tools',
  'map.label': 'Map of the territory',
  'actions.title': 'Share',
  'actions.png': 'PNG image',
  'actions.print': 'Print',
  'actions.embed': 'Embed this map',
  'legend.title': 'Legend',
  'legend.density': 'Population density (inhabitants/km²)',
  'legend.density.1': 'under 250',
  'legend.density.2': '250 – 500',
  'legend.density.3': '500 – 1,000',
  'legend.density.4': '1,000 – 2,000',
  'legend.density.5': '2,000 and over',
  'legend.epci': 'Conurbation (2016)',
  'legend.pole': 'Pôle Métropolitain',
  'legend.a21': 'A21, Rocade minière (approximate line)',
  'legend.zone': 'Business zone',
  'legend.campus': 'Campus',
  'legend.station': 'Railway station',
  'legend.junction': 'Junction',
  'legend.motorwayJunction': 'Motorway junction',
  'legend.port': 'River port',
  'legend.canal': 'Canal',
  'legend.quality': 'How precisely sites are placed',
  'archives.title': 'Tile archives',
  'themes.title': 'Destination themes',
  'destinations.title': 'Destinations',
  'destinations.hint': 'Sites in view, by theme. Choose one to open its card.',
  'destinations.none': 'No site of these themes in the part of the map in view.',
  'destinations.count': (n) => `${n} site${n > 1 ? 's' : ''}`,
  'planner.title': 'Zones near infrastructure',
  'planner.layer': 'Layer',
  'planner.target': 'Infrastructure',
  'planner.distance': 'Distance (m)',
  'planner.search': 'Search',
  'planner.geojson': 'Download as GeoJSON',
  'planner.csv': 'Download as CSV',
  'planner.summary': (n, d) => `${n} result${n > 1 ? 's' : ''} within ${d}.`,
  'planner.caption': 'Results, sortable by column',
  'planner.layer.zones': 'Business zones',
  'planner.layer.campuses': 'Campuses',
  'planner.layer.tourism': 'Tourist sites',
  'attribution.sites': 'sites: Wikipedia and cited sources',
  'planner.target.motorway_junction': 'Motorway junctions',
  'planner.target.rail_station': 'Open railway stations',
  'planner.target.canal': 'Canal de Lens',
  'col.name': 'Name',
  'col.kind': 'Kind',
  'col.commune': 'Commune',
  'col.target': 'Nearest infrastructure',
  'col.distance': 'Distance',
  'sort.hint': 'sort',
  'around.title': 'Around here',
  'around.hint': 'Choose a radius, then click on the map.',
  'around.radius': 'Radius',
  'around.pick': 'Pick a point',
  'around.summary': (n, d) => `${n} item${n > 1 ? 's' : ''} within ${d}:`,
  'around.none': (d) => `Nothing within ${d}.`,
  'measure.title': 'Measure a distance',
  'measure.start': 'Measure',
  'measure.clear': 'Clear',
  'measure.hint': 'Click on the map to add points (or Enter on the map: its centre). Escape to finish.',
  'measure.total': (d, n) => `Distance: ${d} (${n} point${n > 1 ? 's' : ''})`,
  'searching': 'Searching…',
  'loading': 'Loading…',
  'error': (m) => `Error: ${m}`,
  'card.layer': 'Layer',
  'card.details': 'Position, source and details',
  'card.link': 'Copy the link',
  'card.linkCopied': 'Link copied',
  'card.note': 'Note',
  'copy.failed': 'The browser refuses to copy: the text is selected, copy it with Ctrl+C.',
  'embed.title': 'Embed this map',
  'embed.intro': 'For the view and position shown. These snippets work from any other site: Terril allows requests from other origins.',
  'embed.iframe': 'Map frame (iframe)',
  'embed.snippet': "MapLibre GL JS map with Terril's style",
  'embed.tilejson': "The layers' TileJSON",
  'embed.style': 'MapLibre style',
  'embed.copy': 'Copy',
  'embed.copied': 'Copied',
  'embed.close': 'Close',
  'embed.frameTitle': "Map of the Pôle Métropolitain de l'Artois",
  'print.title': (view) => `Pôle Métropolitain de l'Artois — ${view}`,
  'yes': 'yes',
  'no': 'no',
};

/** Layer titles. */
const LAYERS = {
  fr: { communes: 'Commune', epci: 'Agglomération', pole: 'Pôle métropolitain', zones: 'Zone économique', campuses: 'Campus', tourism: 'Site touristique', infrastructure: 'Infrastructure' },
  en: { communes: 'Commune', epci: 'Conurbation', pole: 'Metropolitan area', zones: 'Business zone', campuses: 'Campus', tourism: 'Tourist site', infrastructure: 'Infrastructure' },
};

/** Field labels of feature properties. */
const FIELDS = {
  fr: {
    insee: 'Code INSEE', epci: 'Agglomération (code)', epci_name: 'Agglomération', siren: 'SIREN',
    population: 'Population', population_year: 'Année du recensement', density: 'Densité (hab./km²)',
    area_km2: 'Superficie (km²)', communes: 'Nombre de communes', kind: 'Nature', subtype: 'Précision',
    theme: 'Thème', secondary_theme: 'Thème secondaire', sector: 'Secteur', institution: 'Établissement',
    field: 'Domaine', commune_name: 'Commune', commune: 'Code INSEE de la commune', ref: 'Référence',
    road: 'Route', junction_type: "Type d'échangeur", ref_confirmed: 'Numéro confirmé', uic_ref: 'Code UIC',
    area_ha: 'Surface (ha)', site_area_ha: 'Surface du site (ha)', built_area_ha: 'Surface bâtie (ha)',
    park_area_ha: 'Surface du parc (ha)', plot_area_ha: 'Surface de la parcelle (ha)', lake_area_ha: 'Surface du lac (ha)',
    water_area_ha: "Plan d'eau (ha)", building_area_m2: 'Surface bâtie (m²)', quay_length_m: 'Longueur de quai (m)',
    opened_year: "Année d'ouverture", elevation_m: 'Altitude (m)', summit_elevation_m: 'Altitude du sommet (m)',
    perimeter_m: 'Périmètre (m)', ski_slope_length_m: 'Longueur de la piste (m)', burials: 'Sépultures',
    max_error_m_estimate: 'Erreur estimée (m)', approximate: 'Géométrie approchée',
    location_quality: 'Position', geometry_note: 'Note sur la position', source: 'Source',
    distance_m: 'Distance (m)', target_name: 'Infrastructure la plus proche',
  },
  en: {
    insee: 'INSEE code', epci: 'Conurbation (code)', epci_name: 'Conurbation', siren: 'SIREN',
    population: 'Population', population_year: 'Census year', density: 'Density (inh./km²)',
    area_km2: 'Area (km²)', communes: 'Number of communes', kind: 'Kind', subtype: 'Detail',
    theme: 'Theme', secondary_theme: 'Second theme', sector: 'Sector', institution: 'Institution',
    field: 'Field', commune_name: 'Commune', commune: "Commune's INSEE code", ref: 'Reference',
    road: 'Road', junction_type: 'Junction type', ref_confirmed: 'Number confirmed', uic_ref: 'UIC code',
    area_ha: 'Area (ha)', site_area_ha: 'Site area (ha)', built_area_ha: 'Built area (ha)',
    park_area_ha: 'Park area (ha)', plot_area_ha: 'Plot area (ha)', lake_area_ha: 'Lake area (ha)',
    water_area_ha: 'Water area (ha)', building_area_m2: 'Floor area (m²)', quay_length_m: 'Quay length (m)',
    opened_year: 'Opened in', elevation_m: 'Elevation (m)', summit_elevation_m: 'Summit elevation (m)',
    perimeter_m: 'Perimeter (m)', ski_slope_length_m: 'Slope length (m)', burials: 'Burials',
    max_error_m_estimate: 'Estimated error (m)', approximate: 'Approximate geometry',
    location_quality: 'Position', geometry_note: 'Note on the position', source: 'Source',
    distance_m: 'Distance (m)', target_name: 'Nearest infrastructure',
  },
};

/** Theme names, by code. */
const THEMES = {
  fr: { CULTURE: 'Culture', MEMOIRE: 'Mémoire', NATURE: 'Nature', SPORT: 'Sport' },
  en: { CULTURE: 'Culture', MEMOIRE: 'Remembrance', NATURE: 'Nature', SPORT: 'Sport' },
};

/** What a site is, by `kind`. */
const KINDS = {
  fr: {
    belfry: 'Beffroi', brownfield_reconversion: 'Friche industrielle reconvertie', canal_end: 'Tête de canal',
    canal_junction: 'Confluence de canaux', conservation_centre: 'Centre de conservation', eco_business_park: "Parc d'éco-activités",
    incubator: "Pépinière d'entreprises", indoor_arena: 'Salle de sport couverte', industrial_park: "Parc d'activités industrielles",
    industrial_plant: 'Usine', inland_port: 'Port fluvial', leisure_park: 'Base de loisirs', logistics_cluster: 'Pôle logistique',
    logistics_platform: 'Plateforme logistique multimodale', military_cemetery: 'Cimetière militaire', mining_heritage: 'Patrimoine minier',
    mining_housing_estate: 'Cité minière', motorway: 'Autoroute', motorway_junction: 'Échangeur autoroutier', museum: 'Musée',
    park: 'Parc', rail_station: 'Gare', rail_station_closed: 'Ancienne gare', research_lab: 'Laboratoire de recherche',
    slag_heap: 'Terril', sport_health_cluster: 'Pôle sport et santé', stadium: 'Stade', university_faculty: 'Faculté',
    university_iut: 'Institut universitaire de technologie', vocational_campus: 'Campus des métiers', war_memorial: 'Mémorial',
  },
  en: {
    belfry: 'Belfry', brownfield_reconversion: 'Reclaimed industrial site', canal_end: 'Canal head',
    canal_junction: 'Canal junction', conservation_centre: 'Conservation centre', eco_business_park: 'Eco business park',
    incubator: 'Business incubator', indoor_arena: 'Indoor arena', industrial_park: 'Industrial park',
    industrial_plant: 'Factory', inland_port: 'River port', leisure_park: 'Leisure park', logistics_cluster: 'Logistics cluster',
    logistics_platform: 'Multimodal logistics platform', military_cemetery: 'Military cemetery', mining_heritage: 'Mining heritage',
    mining_housing_estate: "Miners' housing estate", motorway: 'Motorway', motorway_junction: 'Motorway junction', museum: 'Museum',
    park: 'Park', rail_station: 'Railway station', rail_station_closed: 'Former railway station', research_lab: 'Research laboratory',
    slag_heap: 'Slag heap', sport_health_cluster: 'Sport and health cluster', stadium: 'Stadium', university_faculty: 'University faculty',
    university_iut: 'University institute of technology', vocational_campus: 'Vocational campus', war_memorial: 'War memorial',
  },
};

/** Coded values of other fields. */
const VALUES = {
  fr: {
    sector: { culture: 'Culture', environment: 'Environnement', industry: 'Industrie', innovation: 'Innovation', logistics: 'Logistique', sport_health: 'Sport et santé' },
    field: { applied_sciences: 'Sciences appliquées', computer_science: 'Informatique', logistics: 'Logistique', public_works: 'Travaux publics', sciences: 'Sciences', sport: 'Sport' },
    junction_type: { exit: 'Sortie', interchange: 'Échangeur entre autoroutes' },
  },
  en: {
    sector: { culture: 'Culture', environment: 'Environment', industry: 'Industry', innovation: 'Innovation', logistics: 'Logistics', sport_health: 'Sport and health' },
    field: { applied_sciences: 'Applied sciences', computer_science: 'Computer science', logistics: 'Logistics', public_works: 'Public works', sciences: 'Sciences', sport: 'Sport' },
    junction_type: { exit: 'Exit', interchange: 'Motorway interchange' },
  },
};

/** How precisely a site is placed, by `location_quality`. */
const QUALITY = {
  fr: { site: 'Sur le site', proxy: 'Point voisin (approché)', commune_centre: 'Centre de la commune : site non localisé' },
  en: { site: 'On site', proxy: 'Nearby point (approximate)', commune_centre: 'Commune centre: site not located' },
};

/** MapLibre GL JS's own texts (its `locale` option). */
const MAPLIBRE = {
  fr: {
    'AttributionControl.ToggleAttribution': "Afficher ou masquer l'attribution",
    'AttributionControl.MapFeedback': 'Signaler une erreur sur la carte',
    'FullscreenControl.Enter': 'Plein écran',
    'FullscreenControl.Exit': 'Quitter le plein écran',
    'GeolocateControl.FindMyLocation': 'Me localiser',
    'GeolocateControl.LocationNotAvailable': 'Position indisponible',
    'LogoControl.Title': 'Logo MapLibre',
    'Map.Title': 'Carte',
    'Marker.Title': 'Repère',
    'NavigationControl.ResetBearing': 'Faites glisser pour pivoter la carte, cliquez pour revenir au nord',
    'NavigationControl.ZoomIn': 'Zoom avant',
    'NavigationControl.ZoomOut': 'Zoom arrière',
    'Popup.Close': 'Fermer la fiche',
    'GlobeControl.Enable': 'Afficher le globe',
    'GlobeControl.Disable': 'Masquer le globe',
    'TerrainControl.Enable': 'Afficher le relief',
    'TerrainControl.Disable': 'Masquer le relief',
    'CooperativeGesturesHandler.WindowsHelpText': 'Utilisez Ctrl + molette pour zoomer sur la carte',
    'CooperativeGesturesHandler.MacHelpText': 'Utilisez ⌘ + molette pour zoomer sur la carte',
    'CooperativeGesturesHandler.MobileHelpText': 'Utilisez deux doigts pour déplacer la carte',
  },
  en: {
    'Popup.Close': 'Close the card',
  },
};

/** The words of one language. */
export class Words {
  constructor(lang) {
    this.lang = LANGUAGES.includes(lang) ? lang : 'fr';
    this.dict = this.lang === 'en' ? EN : FR;
    this.number = new Intl.NumberFormat(this.lang === 'en' ? 'en-GB' : 'fr-FR', { maximumFractionDigits: 1 });
  }

  /** The text of `key`, a function's result when it takes arguments. */
  t(key, ...args) {
    const v = this.dict[key];
    if (v === undefined) throw new Error(`no text for ${key}`);
    return typeof v === 'function' ? v(...args) : v;
  }

  layer(id) { return LAYERS[this.lang][id] || id; }
  field(key) { return FIELDS[this.lang][key] || key.replaceAll('_', ' '); }
  theme(code) { return THEMES[this.lang][code] || code; }
  kind(code) { return KINDS[this.lang][code] || String(code).replaceAll('_', ' '); }
  quality(code) { return QUALITY[this.lang][code] || code; }
  /** A coded value of `field` in words, or null when the field is not coded. */
  value(field, code) { return VALUES[this.lang][field]?.[code] ?? null; }
  maplibre() { return MAPLIBRE[this.lang]; }

  /** A distance in metres, as "850 m" or "2,3 km". */
  metres(d) { return d < 1000 ? `${Math.round(d)} m` : `${this.number.format(d / 1000)} km`; }
}

/** Every interface text of both languages, for the tests: [key, French, English]. */
export function allTexts() {
  const texts = Object.keys(FR).filter((k) => typeof FR[k] === 'string').map((k) => [k, FR[k], EN[k]]);
  for (const [name, table] of Object.entries({ LAYERS, FIELDS, THEMES, KINDS, QUALITY, MAPLIBRE })) {
    for (const [k, fr] of Object.entries(table.fr)) texts.push([`${name}.${k}`, fr, table.en[k] ?? null]);
  }
  for (const [field, values] of Object.entries(VALUES.fr)) {
    for (const [k, fr] of Object.entries(values)) texts.push([`VALUES.${field}.${k}`, fr, VALUES.en[field][k]]);
  }
  return texts;
}
