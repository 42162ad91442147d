"""Catalogue data the fake serves: locations, datacenters, server types with prices, system images.

Shapes follow the Hetzner Cloud API schema; the figures are plausible, not a price list. Everything is
built fresh per call so a test that mutates what it got cannot leak into another fake.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

VAT = Decimal("1.19")
INCLUDED_TRAFFIC = 20 * 1024**4  # bytes: 20 TB included in the EU locations
CATALOGUE_CREATED = "2024-06-01T09:00:00+00:00"

LOCATIONS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "fsn1",
        "description": "Falkenstein DC Park 1",
        "country": "DE",
        "city": "Falkenstein",
        "latitude": 50.47612,
        "longitude": 12.370071,
        "network_zone": "eu-central",
    },
    {
        "id": 2,
        "name": "nbg1",
        "description": "Nuremberg DC Park 1",
        "country": "DE",
        "city": "Nuremberg",
        "latitude": 49.452102,
        "longitude": 11.076665,
        "network_zone": "eu-central",
    },
    {
        "id": 3,
        "name": "hel1",
        "description": "Helsinki DC Park 1",
        "country": "FI",
        "city": "Helsinki",
        "latitude": 60.169855,
        "longitude": 24.938379,
        "network_zone": "eu-central",
    },
]

DATACENTERS: list[tuple[int, str, str]] = [
    (4, "fsn1-dc14", "fsn1"),
    (2, "nbg1-dc3", "nbg1"),
    (3, "hel1-dc2", "hel1"),
]

# name, id, cores, memory GB, disk GB, cpu_type, architecture, monthly net EUR by location
SERVER_TYPES: list[tuple[str, int, int, float, int, str, str, dict[str, str]]] = [
    ("cx22", 104, 2, 4.0, 40, "shared", "x86", {"fsn1": "3.79", "nbg1": "3.79", "hel1": "3.79"}),
    ("cx32", 105, 4, 8.0, 80, "shared", "x86", {"fsn1": "6.80", "nbg1": "6.80", "hel1": "6.80"}),
    ("cx42", 106, 8, 16.0, 160, "shared", "x86", {"fsn1": "16.40", "nbg1": "16.40", "hel1": "16.40"}),
    ("cpx11", 22, 2, 2.0, 40, "shared", "x86", {"fsn1": "4.35", "nbg1": "4.35", "hel1": "4.85"}),
    ("cpx21", 23, 3, 4.0, 80, "shared", "x86", {"fsn1": "7.55", "nbg1": "7.55", "hel1": "8.39"}),
    ("cax11", 45, 2, 4.0, 40, "shared", "arm", {"fsn1": "3.79", "nbg1": "3.79", "hel1": "3.79"}),
    ("ccx13", 96, 2, 8.0, 80, "dedicated", "x86", {"fsn1": "12.49", "nbg1": "12.49"}),
    ("cx11", 1, 1, 2.0, 20, "shared", "x86", {"fsn1": "3.29", "nbg1": "3.29", "hel1": "3.29"}),
    ("cx21", 3, 2, 4.0, 40, "shared", "x86", {"fsn1": "4.15", "nbg1": "4.15", "hel1": "4.15"}),
]

# Deprecated server types, per location (the newer schema's ``locations[].deprecation``): cx11 everywhere
# (so it also carries the older type-wide ``deprecated``/``deprecation``), cx21 only in fsn1. Past the
# ``unavailable_after`` date a type is no longer "available" in that location's datacenter.
DEPRECATION = {"announced": "2024-06-06T00:00:00+00:00", "unavailable_after": "2024-09-06T00:00:00+00:00"}
DEPRECATED_IN: dict[str, tuple[str, ...]] = {"cx11": ("fsn1", "nbg1", "hel1"), "cx21": ("fsn1",)}

# name, id, os_flavor, os_version, architecture, description
IMAGES: list[tuple[str, int, str, str, str, str]] = [
    ("ubuntu-24.04", 161547269, "ubuntu", "24.04", "x86", "Ubuntu 24.04"),
    ("ubuntu-24.04", 161547270, "ubuntu", "24.04", "arm", "Ubuntu 24.04"),
    ("ubuntu-22.04", 67794396, "ubuntu", "22.04", "x86", "Ubuntu 22.04"),
    ("debian-12", 114690387, "debian", "12", "x86", "Debian 12"),
    ("debian-12", 114690389, "debian", "12", "arm", "Debian 12"),
]


def _money(net: Decimal) -> dict[str, str]:
    """Prices are decimal strings, net with 10 and gross with 16 places, as the API prints them."""
    return {"net": f"{net:.10f}", "gross": f"{net * VAT:.16f}"}


def _price(location: str, monthly: str) -> dict[str, Any]:
    net_monthly = Decimal(monthly)
    return {
        "location": location,
        "price_hourly": _money((net_monthly / 630).quantize(Decimal("0.0001"))),
        "price_monthly": _money(net_monthly),
        "included_traffic": INCLUDED_TRAFFIC,
        "price_per_tb_traffic": _money(Decimal("1.00")),
    }


def locations() -> list[dict[str, Any]]:
    return [dict(loc) for loc in LOCATIONS]


def location_by_name(name: str) -> dict[str, Any]:
    return next(loc for loc in locations() if loc["name"] == name)


def server_types() -> list[dict[str, Any]]:
    out = []
    for name, type_id, cores, memory, disk, cpu_type, arch, monthly in SERVER_TYPES:
        gone = DEPRECATED_IN.get(name, ())
        everywhere = bool(gone) and set(gone) >= set(monthly)
        out.append(
            {
                "id": type_id,
                "name": name,
                "description": name.upper(),
                "category": "cost_optimized" if name.startswith(("cx", "cax")) else "regular_purpose",
                "cores": cores,
                "memory": memory,
                "disk": disk,
                "deprecated": everywhere,
                "deprecation": dict(DEPRECATION) if everywhere else None,
                "cpu_type": cpu_type,
                "architecture": arch,
                "storage_type": "local",
                "prices": [_price(loc, price) for loc, price in monthly.items()],
                # available/recommended are newer than the shared schema, but hcloud>=2.27 requires them
                "locations": [
                    {
                        "id": location_by_name(loc)["id"],
                        "name": loc,
                        "deprecation": dict(DEPRECATION) if loc in gone else None,
                        "available": loc not in gone,
                        "recommended": cpu_type == "shared",
                    }
                    for loc in monthly
                ],
            }
        )
    return out


def datacenters() -> list[dict[str, Any]]:
    types = server_types()
    out = []
    for dc_id, name, loc in DATACENTERS:
        here = [t["id"] for t in types if any(p["location"] == loc for p in t["prices"])]
        orderable = [
            t["id"] for t in types if t["id"] in here and loc not in DEPRECATED_IN.get(t["name"], ())
        ]
        location = location_by_name(loc)
        out.append(
            {
                "id": dc_id,
                "name": name,
                "description": f"{location['city']} {name.split('-')[1].upper()}",
                "location": location,
                "server_types": {
                    "supported": here,
                    "available": orderable,
                    "available_for_migration": orderable,
                },
            }
        )
    return out


def images() -> list[dict[str, Any]]:
    return [
        {
            "id": image_id,
            "name": name,
            "type": "system",
            "status": "available",
            "description": description,
            "image_size": None,
            "disk_size": 5,
            "created": CATALOGUE_CREATED,
            "created_from": None,
            "bound_to": None,
            "os_flavor": flavor,
            "os_version": version,
            "rapid_deploy": True,
            "protection": {"delete": False},
            "deprecated": None,
            "deleted": None,
            "labels": {},
            "architecture": arch,
        }
        for name, image_id, flavor, version, arch, description in IMAGES
    ]
