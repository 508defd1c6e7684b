"""Well-known places, so that a city, its country, airport, coordinates and time zone agree in one dialog."""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    city: str
    country: str
    country_code: str
    airport: str
    lat: float
    lon: float
    timezone: str
    region: str


PLACES: tuple[Place, ...] = tuple(Place(*row) for row in (
    ("Lisbon", "Portugal", "PT", "LIS", 38.7223, -9.1393, "Europe/Lisbon", "Lisbon District"),
    ("Madrid", "Spain", "ES", "MAD", 40.4168, -3.7038, "Europe/Madrid", "Community of Madrid"),
    ("Barcelona", "Spain", "ES", "BCN", 41.3874, 2.1686, "Europe/Madrid", "Catalonia"),
    ("Paris", "France", "FR", "CDG", 48.8566, 2.3522, "Europe/Paris", "Ile-de-France"),
    ("Lyon", "France", "FR", "LYS", 45.764, 4.8357, "Europe/Paris", "Auvergne-Rhone-Alpes"),
    ("Berlin", "Germany", "DE", "BER", 52.52, 13.405, "Europe/Berlin", "Berlin"),
    ("Munich", "Germany", "DE", "MUC", 48.1351, 11.582, "Europe/Berlin", "Bavaria"),
    ("Hamburg", "Germany", "DE", "HAM", 53.5511, 9.9937, "Europe/Berlin", "Hamburg"),
    ("Amsterdam", "Netherlands", "NL", "AMS", 52.3676, 4.9041, "Europe/Amsterdam", "North Holland"),
    ("Brussels", "Belgium", "BE", "BRU", 50.8503, 4.3517, "Europe/Brussels", "Brussels-Capital"),
    ("Rome", "Italy", "IT", "FCO", 41.9028, 12.4964, "Europe/Rome", "Lazio"),
    ("Milan", "Italy", "IT", "MXP", 45.4642, 9.19, "Europe/Rome", "Lombardy"),
    ("Vienna", "Austria", "AT", "VIE", 48.2082, 16.3738, "Europe/Vienna", "Vienna"),
    ("Zurich", "Switzerland", "CH", "ZRH", 47.3769, 8.5417, "Europe/Zurich", "Zurich"),
    ("Prague", "Czechia", "CZ", "PRG", 50.0755, 14.4378, "Europe/Prague", "Prague"),
    ("Warsaw", "Poland", "PL", "WAW", 52.2297, 21.0122, "Europe/Warsaw", "Masovia"),
    ("Copenhagen", "Denmark", "DK", "CPH", 55.6761, 12.5683, "Europe/Copenhagen", "Capital Region"),
    ("Stockholm", "Sweden", "SE", "ARN", 59.3293, 18.0686, "Europe/Stockholm", "Stockholm County"),
    ("Oslo", "Norway", "NO", "OSL", 59.9139, 10.7522, "Europe/Oslo", "Oslo"),
    ("Helsinki", "Finland", "FI", "HEL", 60.1699, 24.9384, "Europe/Helsinki", "Uusimaa"),
    ("Dublin", "Ireland", "IE", "DUB", 53.3498, -6.2603, "Europe/Dublin", "Leinster"),
    ("London", "United Kingdom", "GB", "LHR", 51.5074, -0.1278, "Europe/London", "England"),
    ("Manchester", "United Kingdom", "GB", "MAN", 53.4808, -2.2426, "Europe/London", "England"),
    ("Edinburgh", "United Kingdom", "GB", "EDI", 55.9533, -3.1883, "Europe/London", "Scotland"),
    ("Athens", "Greece", "GR", "ATH", 37.9838, 23.7275, "Europe/Athens", "Attica"),
    ("Istanbul", "Turkey", "TR", "IST", 41.0082, 28.9784, "Europe/Istanbul", "Istanbul"),
    ("Cairo", "Egypt", "EG", "CAI", 30.0444, 31.2357, "Africa/Cairo", "Cairo Governorate"),
    ("Nairobi", "Kenya", "KE", "NBO", -1.2921, 36.8219, "Africa/Nairobi", "Nairobi County"),
    ("Cape Town", "South Africa", "ZA", "CPT", -33.9249, 18.4241, "Africa/Johannesburg", "Western Cape"),
    ("Dubai", "United Arab Emirates", "AE", "DXB", 25.2048, 55.2708, "Asia/Dubai", "Dubai"),
    ("Mumbai", "India", "IN", "BOM", 19.076, 72.8777, "Asia/Kolkata", "Maharashtra"),
    ("Delhi", "India", "IN", "DEL", 28.7041, 77.1025, "Asia/Kolkata", "Delhi"),
    ("Bangalore", "India", "IN", "BLR", 12.9716, 77.5946, "Asia/Kolkata", "Karnataka"),
    ("Singapore", "Singapore", "SG", "SIN", 1.3521, 103.8198, "Asia/Singapore", "Central Region"),
    ("Bangkok", "Thailand", "TH", "BKK", 13.7563, 100.5018, "Asia/Bangkok", "Bangkok"),
    ("Hong Kong", "Hong Kong", "HK", "HKG", 22.3193, 114.1694, "Asia/Hong_Kong", "Hong Kong Island"),
    ("Tokyo", "Japan", "JP", "HND", 35.6762, 139.6503, "Asia/Tokyo", "Kanto"),
    ("Osaka", "Japan", "JP", "KIX", 34.6937, 135.5023, "Asia/Tokyo", "Kansai"),
    ("Seoul", "South Korea", "KR", "ICN", 37.5665, 126.978, "Asia/Seoul", "Seoul"),
    ("Sydney", "Australia", "AU", "SYD", -33.8688, 151.2093, "Australia/Sydney", "New South Wales"),
    ("Melbourne", "Australia", "AU", "MEL", -37.8136, 144.9631, "Australia/Melbourne", "Victoria"),
    ("Auckland", "New Zealand", "NZ", "AKL", -36.8485, 174.7633, "Pacific/Auckland", "Auckland"),
    ("Toronto", "Canada", "CA", "YYZ", 43.6532, -79.3832, "America/Toronto", "Ontario"),
    ("Vancouver", "Canada", "CA", "YVR", 49.2827, -123.1207, "America/Vancouver", "British Columbia"),
    ("Montreal", "Canada", "CA", "YUL", 45.5017, -73.5673, "America/Toronto", "Quebec"),
    ("New York", "United States", "US", "JFK", 40.7128, -74.006, "America/New_York", "New York"),
    ("Boston", "United States", "US", "BOS", 42.3601, -71.0589, "America/New_York", "Massachusetts"),
    ("Chicago", "United States", "US", "ORD", 41.8781, -87.6298, "America/Chicago", "Illinois"),
    ("Austin", "United States", "US", "AUS", 30.2672, -97.7431, "America/Chicago", "Texas"),
    ("Denver", "United States", "US", "DEN", 39.7392, -104.9903, "America/Denver", "Colorado"),
    ("Seattle", "United States", "US", "SEA", 47.6062, -122.3321, "America/Los_Angeles", "Washington"),
    ("San Francisco", "United States", "US", "SFO", 37.7749, -122.4194, "America/Los_Angeles", "California"),
    ("Los Angeles", "United States", "US", "LAX", 34.0522, -118.2437, "America/Los_Angeles", "California"),
    ("Miami", "United States", "US", "MIA", 25.7617, -80.1918, "America/New_York", "Florida"),
    ("Mexico City", "Mexico", "MX", "MEX", 19.4326, -99.1332, "America/Mexico_City", "Mexico City"),
    ("Bogota", "Colombia", "CO", "BOG", 4.711, -74.0721, "America/Bogota", "Cundinamarca"),
    ("Lima", "Peru", "PE", "LIM", -12.0464, -77.0428, "America/Lima", "Lima"),
    ("Santiago", "Chile", "CL", "SCL", -33.4489, -70.6693, "America/Santiago", "Santiago Metropolitan"),
    ("Buenos Aires", "Argentina", "AR", "EZE", -34.6037, -58.3816, "America/Argentina/Buenos_Aires", "Buenos Aires"),
    ("Sao Paulo", "Brazil", "BR", "GRU", -23.5505, -46.6333, "America/Sao_Paulo", "Sao Paulo"),
    ("Rio de Janeiro", "Brazil", "BR", "GIG", -22.9068, -43.1729, "America/Sao_Paulo", "Rio de Janeiro"),
    ("Minneapolis", "United States", "US", "MSP", 44.9778, -93.265, "America/Chicago", "Minnesota"),
    ("Atlanta", "United States", "US", "ATL", 33.749, -84.388, "America/New_York", "Georgia"),
    ("Dallas", "United States", "US", "DFW", 32.7767, -96.797, "America/Chicago", "Texas"),
    ("Houston", "United States", "US", "IAH", 29.7604, -95.3698, "America/Chicago", "Texas"),
    ("Phoenix", "United States", "US", "PHX", 33.4484, -112.074, "America/Phoenix", "Arizona"),
    ("Philadelphia", "United States", "US", "PHL", 39.9526, -75.1652, "America/New_York", "Pennsylvania"),
    ("Washington", "United States", "US", "IAD", 38.9072, -77.0369, "America/New_York", "District of Columbia"),
    ("Las Vegas", "United States", "US", "LAS", 36.1699, -115.1398, "America/Los_Angeles", "Nevada"),
    ("Portland", "United States", "US", "PDX", 45.5152, -122.6784, "America/Los_Angeles", "Oregon"),
    ("Detroit", "United States", "US", "DTW", 42.3314, -83.0458, "America/Detroit", "Michigan"),
    ("Nashville", "United States", "US", "BNA", 36.1627, -86.7816, "America/Chicago", "Tennessee"),
    ("New Orleans", "United States", "US", "MSY", 29.9511, -90.0715, "America/Chicago", "Louisiana"),
    ("San Diego", "United States", "US", "SAN", 32.7157, -117.1611, "America/Los_Angeles", "California"),
    ("Calgary", "Canada", "CA", "YYC", 51.0447, -114.0719, "America/Edmonton", "Alberta"),
    ("Porto", "Portugal", "PT", "OPO", 41.1579, -8.6291, "Europe/Lisbon", "Porto District"),
    ("Seville", "Spain", "ES", "SVQ", 37.3891, -5.9845, "Europe/Madrid", "Andalusia"),
    ("Nice", "France", "FR", "NCE", 43.7102, 7.262, "Europe/Paris", "Provence-Alpes-Cote d'Azur"),
    ("Frankfurt", "Germany", "DE", "FRA", 50.1109, 8.6821, "Europe/Berlin", "Hesse"),
    ("Venice", "Italy", "IT", "VCE", 45.4408, 12.3155, "Europe/Rome", "Veneto"),
    ("Budapest", "Hungary", "HU", "BUD", 47.4979, 19.0402, "Europe/Budapest", "Budapest"),
    ("Reykjavik", "Iceland", "IS", "KEF", 64.1466, -21.9426, "Atlantic/Reykjavik", "Capital Region"),
    ("Marrakech", "Morocco", "MA", "RAK", 31.6295, -7.9811, "Africa/Casablanca", "Marrakesh-Safi"),
    ("Lagos", "Nigeria", "NG", "LOS", 6.5244, 3.3792, "Africa/Lagos", "Lagos State"),
    ("Doha", "Qatar", "QA", "DOH", 25.2854, 51.531, "Asia/Qatar", "Doha"),
    ("Kuala Lumpur", "Malaysia", "MY", "KUL", 3.139, 101.6869, "Asia/Kuala_Lumpur", "Federal Territory"),
    ("Jakarta", "Indonesia", "ID", "CGK", -6.2088, 106.8456, "Asia/Jakarta", "Jakarta"),
    ("Manila", "Philippines", "PH", "MNL", 14.5995, 120.9842, "Asia/Manila", "Metro Manila"),
    ("Taipei", "Taiwan", "TW", "TPE", 25.033, 121.5654, "Asia/Taipei", "Taipei"),
    ("Shanghai", "China", "CN", "PVG", 31.2304, 121.4737, "Asia/Shanghai", "Shanghai"),
    ("Beijing", "China", "CN", "PEK", 39.9042, 116.4074, "Asia/Shanghai", "Beijing"),
))

TICKERS: tuple[tuple[str, str], ...] = (
    ("AAPL", "Apple"), ("MSFT", "Microsoft"), ("GOOGL", "Alphabet"), ("AMZN", "Amazon"), ("NVDA", "Nvidia"),
    ("META", "Meta"), ("TSLA", "Tesla"), ("NFLX", "Netflix"), ("JPM", "JPMorgan Chase"), ("V", "Visa"),
    ("KO", "Coca-Cola"), ("PEP", "PepsiCo"), ("DIS", "Disney"), ("NKE", "Nike"), ("INTC", "Intel"),
    ("AMD", "AMD"), ("IBM", "IBM"), ("ORCL", "Oracle"), ("SBUX", "Starbucks"), ("WMT", "Walmart"),
)
CRYPTO: tuple[tuple[str, str], ...] = (
    ("BTC", "bitcoin"), ("ETH", "ether"), ("SOL", "solana"), ("ADA", "cardano"), ("XRP", "ripple"),
    ("DOGE", "dogecoin"), ("DOT", "polkadot"), ("LTC", "litecoin"), ("AVAX", "avalanche"), ("LINK", "chainlink"),
)
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("en", "English"), ("es", "Spanish"), ("fr", "French"), ("de", "German"), ("pt", "Portuguese"),
    ("it", "Italian"), ("nl", "Dutch"), ("ja", "Japanese"), ("ko", "Korean"), ("zh", "Chinese"),
    ("ar", "Arabic"), ("ru", "Russian"), ("hi", "Hindi"), ("tr", "Turkish"), ("pl", "Polish"), ("sv", "Swedish"),
)
CURRENCIES: tuple[tuple[str, str, str], ...] = (
    ("USD", "US dollars", "$"), ("EUR", "euros", "€"), ("GBP", "British pounds", "£"), ("JPY", "Japanese yen", "¥"),
    ("CHF", "Swiss francs", ""), ("CAD", "Canadian dollars", ""), ("AUD", "Australian dollars", ""),
    ("INR", "Indian rupees", "₹"), ("BRL", "Brazilian reais", ""), ("MXN", "Mexican pesos", ""),
    ("SEK", "Swedish kronor", ""), ("SGD", "Singapore dollars", ""),
)
AIRLINES: tuple[tuple[str, str], ...] = (
    ("BA", "British Airways"), ("LH", "Lufthansa"), ("AF", "Air France"), ("KL", "KLM"), ("IB", "Iberia"),
    ("TP", "TAP Air Portugal"), ("EK", "Emirates"), ("SQ", "Singapore Airlines"), ("NH", "ANA"), ("QF", "Qantas"),
    ("AC", "Air Canada"), ("UA", "United"), ("DL", "Delta"), ("AA", "American Airlines"), ("LX", "Swiss"),
)
