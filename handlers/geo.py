"""Distances on the earth's surface, for geofence checks."""
from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine; plenty for a site a few km across)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def outside(zone, latitude: float, longitude: float) -> float | None:
    """How far outside the zone's geofence the point lies, or None when inside or unfenced."""
    if zone.latitude is None or zone.longitude is None or not zone.radius_m:
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return math.inf  # no usable position: not shown to be on site
    distance = distance_m(zone.latitude, zone.longitude, latitude, longitude)
    return distance if distance > zone.radius_m else None
