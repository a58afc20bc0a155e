"""The Sochi memorandum (17 September 2018) and the May 2019 escalation around Idlib, as demo data.

The facts are written here as plain data, in our own words, from the project's demo brief
(`sochi-memorandum.md`); `load()` writes them through `agreements.services`, so every row has its history.

Loading is idempotent: each record is looked up by its natural key and, when it exists, left exactly as it is
(monitors may have edited a demo record; a reload must not overwrite them). Violations have fixed public ids,
`uuid5(VIOLATION_NAMESPACE, "sochi-2018/<key>")`, so they are found again on the next run.

Uncertainty stays in the data: one partisan secondary source (graded C3), violations left as "reported", time and
location precisions as coarse as the source is, and zone lines marked approximate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from agreements import services
from agreements.models import (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Patrol,
    Place,
    PlaceAlias,
    RouteStatus,
    Source,
    Violation,
    ViolationSource,
    Zone,
)
from agreements.terms import actor_slugs_in_terms

DEMO_USERNAME = "sochi-demo"

# Fixed for ever: changing it would give every demo violation a new public id (and load them a second time).
VIOLATION_NAMESPACE = uuid.UUID("84623c97-884c-4862-a0c1-a7f858937526")


def violation_uuid(key: str) -> uuid.UUID:
    """The public id of the demo violation with this event key."""
    return uuid.uuid5(VIOLATION_NAMESPACE, f"sochi-2018/{key}")


def _utc(year: int, month: int, day: int) -> datetime:
    # Only the day is known; midnight UTC is the same calendar day in Syria (UTC+2/+3).
    return datetime(year, month, day, tzinfo=UTC)


# --- the agreement -----------------------------------------------------------------------------------------------

AGREEMENT = {
    "slug": "sochi-2018",
    "title": "Memorandum on Stabilization of the Situation in the Idlib De-escalation Area",
    "short_title": "Sochi memorandum",
    "signed_on": date(2018, 9, 17),
    "signed_at": "Sochi",
    "in_force_from": date(2018, 9, 17),
    "status": Agreement.Status.IN_FORCE,
    "summary": (
        "Russia and Turkey agree to keep the Idlib de-escalation area and the Turkish observation posts in it; to "
        "set up inside it a demilitarised zone 15–20 km deep, to be cleared of heavy weapons by 10 October 2018 "
        "and of radical groups by 15 October 2018 and watched by coordinated Turkish and Russian patrols and "
        "drones; to restore transit on the M4 and M5 highways by the end of 2018; and to secure a lasting "
        "ceasefire, with the joint Iranian–Russian–Turkish coordination centre strengthened for that purpose. "
        "The zone's lines were left to later consultations and never published."
    ),
}

# (actor slug, role). Russia and Turkey both sign and guarantee; Iran is no signatory but sits in the joint
# coordination centre, recorded as an observer.
PARTIES = (
    ("russia", AgreementParty.Role.SIGNATORY),
    ("russia", AgreementParty.Role.GUARANTOR),
    ("turkey", AgreementParty.Role.SIGNATORY),
    ("turkey", AgreementParty.Role.GUARANTOR),
    ("iran", AgreementParty.Role.OBSERVER),
)

# --- actors ------------------------------------------------------------------------------------------------------
# Listed so that an actor comes after the actors it is part of or backed by.

ACTORS = (
    {
        "slug": "russia",
        "name": "Russian Federation",
        "short_name": "Russia",
        "kind": Actor.Kind.STATE,
        "country": "RU",
        "description": "Signatory and guarantor of the Sochi memorandum; supports the Government of Syria.",
        "aliases": (("Russia", "en"), ("Российская Федерация", "ru"), ("Россия", "ru")),
    },
    {
        "slug": "russian-aerospace-forces",
        "name": "Russian Aerospace Forces",
        "short_name": "VKS",
        "kind": Actor.Kind.STATE_FORCE,
        "country": "RU",
        "part_of": "russia",
        "description": "Russia's air and space force; flies air support for Syrian government operations.",
        "aliases": (("VKS", "en"), ("Russian Air Force", "en"), ("Воздушно-космические силы", "ru")),
    },
    {
        "slug": "russian-military-police",
        "name": "Russian Military Police",
        "kind": Actor.Kind.STATE_FORCE,
        "country": "RU",
        "part_of": "russia",
        "description": "Russian military police units deployed in Syria; the memorandum's Russian patrol force.",
        "aliases": (("Военная полиция России", "ru"),),
    },
    {
        "slug": "turkey",
        "name": "Republic of Turkey",
        "short_name": "Turkey",
        "kind": Actor.Kind.STATE,
        "country": "TR",
        "description": "Signatory and guarantor of the Sochi memorandum; backs Syrian opposition factions.",
        "aliases": (("Turkey", "en"), ("Türkiye", "tr"), ("Türkiye Cumhuriyeti", "tr")),
    },
    {
        "slug": "turkish-armed-forces",
        "name": "Turkish Armed Forces",
        "short_name": "TAF",
        "kind": Actor.Kind.STATE_FORCE,
        "country": "TR",
        "part_of": "turkey",
        "description": "Turkey's armed forces; man the observation posts and patrol under the memorandum.",
        "aliases": (("TSK", "tr"), ("Türk Silahlı Kuvvetleri", "tr")),
    },
    {
        "slug": "iran",
        "name": "Islamic Republic of Iran",
        "short_name": "Iran",
        "kind": Actor.Kind.STATE,
        "country": "IR",
        "description": "Not a signatory of the memorandum; sits in the joint Iranian–Russian–Turkish coordination "
        "centre. Supports the Government of Syria.",
        "aliases": (("Iran", "en"), ("جمهوری اسلامی ایران", "fa")),
    },
    {
        "slug": "government-of-syria",
        "name": "Government of Syria",
        "short_name": "GoS",
        "kind": Actor.Kind.STATE,
        "country": "SY",
        "description": "The government in Damascus; not a party to the memorandum, whose terms bind it through "
        "Russia's undertakings.",
        "aliases": (("Syrian government", "en"), ("Syrian Arab Republic", "en"), ("الحكومة السورية", "ar")),
    },
    {
        "slug": "syrian-arab-army",
        "name": "Syrian Arab Army",
        "short_name": "SAA",
        "kind": Actor.Kind.STATE_FORCE,
        "country": "SY",
        "part_of": "government-of-syria",
        "description": "The Syrian government's ground forces (often reported as 'government forces').",
        "aliases": (("SAA", "en"), ("Syrian Army", "en"), ("الجيش العربي السوري", "ar")),
    },
    {
        "slug": "syrian-arab-air-force",
        "name": "Syrian Arab Air Force",
        "short_name": "SyAAF",
        "kind": Actor.Kind.STATE_FORCE,
        "country": "SY",
        "part_of": "government-of-syria",
        "description": "The Syrian government's air force, including the helicopters that drop barrel bombs.",
        "aliases": (("SyAAF", "en"), ("القوات الجوية العربية السورية", "ar")),
    },
    {
        "slug": "tiger-forces",
        "name": "Tiger Forces",
        "kind": Actor.Kind.UNIT,
        "country": "SY",
        "part_of": "syrian-arab-army",
        "description": "An elite unit of the Syrian Arab Army, often at the head of offensives in Hama and Idlib.",
        "aliases": (("Quwat al-Nimr", "en"), ("قوات النمر", "ar")),
    },
    {
        "slug": "hayat-tahrir-al-sham",
        "name": "Hayat Tahrir al-Sham",
        "short_name": "HTS",
        "kind": Actor.Kind.NON_STATE_ARMED_GROUP,
        "description": "Jihadist armed group, the strongest in the Idlib area; formed from a group formerly "
        "linked to al-Qaeda. The memorandum's 'radical terrorist groups' chiefly mean it.",
        "aliases": (("HTS", "en"), ("Tahrir al-Sham", "en"), ("هيئة تحرير الشام", "ar")),
    },
    {
        "slug": "national-front-for-liberation",
        "name": "National Front for Liberation",
        "short_name": "NFL",
        "kind": Actor.Kind.COALITION,
        "backed_by": ("turkey",),
        "description": "Coalition of Turkish-backed Syrian opposition factions in the Idlib area.",
        "aliases": (("NLF", "en"), ("National Liberation Front", "en"), ("الجبهة الوطنية للتحرير", "ar")),
    },
    {
        "slug": "syrian-national-army",
        "name": "Syrian National Army",
        "short_name": "SNA",
        "kind": Actor.Kind.COALITION,
        "backed_by": ("turkey",),
        "description": "Turkish-trained Syrian opposition force based in the Euphrates Shield and Afrin areas of "
        "northern Aleppo.",
        "aliases": (("National Army", "en"), ("الجيش الوطني السوري", "ar")),
    },
    {
        "slug": "iranian-backed-militias",
        "name": "Iranian-backed militias",
        "kind": Actor.Kind.MILITIA,
        "backed_by": ("iran",),
        "description": "Pro-government militias supported by Iran, recorded as one actor where sources do not "
        "name them. The demo source says they took no part in the May 2019 ground operation.",
        "aliases": (),
    },
    {
        "slug": "unknown",
        "name": "Unknown perpetrator",
        "kind": Actor.Kind.UNKNOWN,
        "description": "Used when the sources do not say who is responsible.",
        "aliases": (),
    },
)

# --- clauses -----------------------------------------------------------------------------------------------------
# Paraphrased, numbered as the memorandum is commonly published. Actor slugs inside `terms` are demo slugs; the
# loader maps them to the slugs the actors actually have.

SIGNATORIES = ("russia", "turkey")

CLAUSES = (
    {
        "number": "1",
        "title": "De-escalation area and Turkish observation posts kept",
        "text": "The Idlib de-escalation area is kept as it is, and the Turkish observation posts in it are "
        "reinforced and continue to operate.",
        "kind": Clause.Kind.STATUS_QUO,
        "obligated": SIGNATORIES,
        "terms": {"scope": "The Idlib de-escalation area and its Turkish observation posts", "observation_posts": True},
    },
    {
        "number": "2",
        "title": "Russia prevents military operations on Idlib; status quo kept",
        "text": "The Russian Federation takes every measure needed to prevent military operations and attacks "
        "on Idlib, and the existing status quo is preserved.",
        "kind": Clause.Kind.STATUS_QUO,
        "obligated": ("russia",),
        "terms": {"scope": "No military operations or attacks on Idlib; the existing lines stay as they are"},
    },
    {
        "number": "3",
        "title": "Demilitarised zone 15–20 km deep",
        "text": "A demilitarised zone 15 to 20 km deep is set up inside the de-escalation area.",
        "kind": Clause.Kind.DEMILITARISED_ZONE,
        "obligated": SIGNATORIES,
        "terms": {"depth_km_min": 15, "depth_km_max": 20, "lines_defined": False},
    },
    {
        "number": "4",
        "title": "Zone lines set by further consultations",
        "text": "The exact lines of the demilitarised zone are to be settled through further consultations.",
        "kind": Clause.Kind.OTHER,
        "obligated": SIGNATORIES,
        "terms": {},
    },
    {
        "number": "5",
        "title": "Radical groups out of the zone by 15 October 2018",
        "text": "All radical terrorist groups are to leave the demilitarised zone by 15 October 2018.",
        "kind": Clause.Kind.GROUP_WITHDRAWAL,
        "deadline": date(2018, 10, 15),
        "obligated": SIGNATORIES,
        "terms": {
            "groups": ["hayat-tahrir-al-sham"],
            "group_description": "all radical terrorist groups",
            "zone": "dmz",
        },
    },
    {
        "number": "6",
        "title": "Heavy weapons out of the zone by 10 October 2018",
        "text": "All tanks, multiple rocket launchers, artillery and mortars of the warring parties are to be "
        "withdrawn from the demilitarised zone by 10 October 2018.",
        "kind": Clause.Kind.WEAPONS_WITHDRAWAL,
        "deadline": date(2018, 10, 10),
        "obligated": SIGNATORIES,
        "terms": {
            "weapon_categories": ["tanks", "multiple_rocket_launchers", "artillery", "mortars"],
            "zone": "dmz",
        },
    },
    {
        "number": "7",
        "title": "Coordinated patrols and drone monitoring",
        "text": "Turkish forces and Russian military police carry out coordinated patrols and drone monitoring "
        "along the boundaries of the demilitarised zone, so that residents and goods can move freely.",
        "kind": Clause.Kind.PATROLS,
        "obligated": SIGNATORIES,
        "terms": {
            "participants": ["turkish-armed-forces", "russian-military-police"],
            "uav_monitoring": True,
            "purpose": "Free movement of residents and goods",
        },
    },
    {
        "number": "8",
        "title": "M4 and M5 transit restored by the end of 2018",
        "text": "Transit traffic on the M4 (Aleppo–Latakia) and M5 (Aleppo–Hama) highways is to be restored by "
        "the end of 2018.",
        "kind": Clause.Kind.ROUTE_OPENING,
        "deadline": date(2018, 12, 31),
        "obligated": SIGNATORIES,
        "terms": {"routes": ["M4", "M5"]},
    },
    {
        "number": "9",
        "title": "Lasting ceasefire; joint coordination centre strengthened",
        "text": "Effective measures are taken to secure a lasting ceasefire in the de-escalation area; to this "
        "end the joint Iranian–Russian–Turkish coordination centre is strengthened.",
        "kind": Clause.Kind.CEASEFIRE,
        "obligated": SIGNATORIES,
        "terms": {
            "scope": "The Idlib de-escalation area",
            "mechanism": "Joint Iranian–Russian–Turkish coordination centre",
        },
    },
    {
        "number": "10",
        "title": "Resolve to fight terrorism",
        "text": "Both sides restate their determination to fight terrorism in Syria in all its forms.",
        "kind": Clause.Kind.OTHER,
        "obligated": SIGNATORIES,
        "terms": {},
    },
)

# --- places ------------------------------------------------------------------------------------------------------

PLACE_NOTES = "Demo coordinates, approximate (±2 km)."
GOVERNORATE_NOTES = (
    "Approximate centroid of the governorate (tens of km off for any particular spot): for events the sources "
    "place only at governorate level."
)

# (name, governorate, latitude, longitude, aliases as (name, language))
SETTLEMENTS = (
    (
        "Kafr Nabudah",
        "Hama",
        "35.43",
        "36.52",
        (("Kafr Nabouda", ""), ("Kafranbouda", ""), ("Kfar Nabuda", ""), ("Kafr Nabuda", ""), ("كفرنبودة", "ar")),
    ),
    (
        "Qalaat al-Madiq",
        "Hama",
        "35.41",
        "36.39",
        (("Qalat al-Madiq", ""), ("Qalaat al-Mudiq", ""), ("Qal'at al-Madiq", ""), ("قلعة المضيق", "ar")),
    ),
    ("Kafr Zita", "Hama", "35.37", "36.60", (("Kafr Zeita", ""), ("Kafarzita", ""), ("كفرزيتا", "ar"))),
    ("Latamna", "Hama", "35.32", "36.61", (("al-Lataminah", ""), ("Lataminah", ""), ("اللطامنة", "ar"))),
    ("Morek", "Hama", "35.38", "36.68", (("Murak", ""), ("Mork", ""), ("مورك", "ar"))),
    ("Khan Shaykhun", "Idlib", "35.44", "36.65", (("Khan Sheikhoun", ""), ("Khan Shaykhoun", ""), ("خان شيخون", "ar"))),
    (
        "Maarat al-Numan",
        "Idlib",
        "35.65",
        "36.67",
        (("Maarat al-Nouman", ""), ("Ma'arrat al-Nu'man", ""), ("Maarat al-Numaan", ""), ("معرة النعمان", "ar")),
    ),
    (
        "Jisr al-Shughur",
        "Idlib",
        "35.81",
        "36.32",
        (("Jisr ash-Shughur", ""), ("Jisr al-Shugour", ""), ("جسر الشغور", "ar")),
    ),
    ("Saraqib", "Idlib", "35.86", "36.80", (("Saraqeb", ""), ("سراقب", "ar"))),
    ("Ariha", "Idlib", "35.81", "36.61", (("أريحا", "ar"),)),
    ("Idlib", "Idlib", "35.93", "36.63", (("Idleb", ""), ("Idlib city", ""), ("إدلب", "ar"))),
    ("Darkush", "Idlib", "35.99", "36.39", (("Darkoush", ""), ("Darkosh", ""), ("دركوش", "ar"))),
    ("Aleppo", "Aleppo", "36.20", "37.16", (("Halab", ""), ("حلب", "ar"))),
    ("Hama", "Hama", "35.13", "36.75", (("Hamah", ""), ("حماة", "ar"))),
    ("Latakia", "Latakia", "35.52", "35.78", (("Lattakia", ""), ("al-Ladhiqiyah", ""), ("اللاذقية", "ar"))),
)

GOVERNORATES = (
    ("Idlib Governorate", "Idlib", "35.80", "36.62", (("Idleb Governorate", ""), ("محافظة إدلب", "ar"))),
    ("Hama Governorate", "Hama", "35.20", "37.05", (("Hamah Governorate", ""), ("محافظة حماة", "ar"))),
)

PLACES = tuple(
    {
        "name": name,
        "kind": kind,
        "admin1": admin1,
        "latitude": Decimal(lat),
        "longitude": Decimal(lon),
        "notes": notes,
        "aliases": aliases,
    }
    for rows, kind, notes in (
        (SETTLEMENTS, Place.Kind.SETTLEMENT, PLACE_NOTES),
        (GOVERNORATES, Place.Kind.ADMIN1, GOVERNORATE_NOTES),
    )
    for name, admin1, lat, lon, aliases in rows
)

# --- zones -------------------------------------------------------------------------------------------------------
# Positions are [longitude, latitude]. Neither line was ever published; both are drawn for the demo.
#
# The de-escalation area follows an approximate September 2018 line of contact (Latakia hills at the Turkish
# border – west edge of the Ghab plain – south of Qalaat al-Madiq, Kafr Nabudah, Latamna and Morek – east of
# Khan Shaykhun, Maarat al-Numan and Saraqib – west of Aleppo) and closes along the Turkish border and the edge of
# the Afrin area. The DMZ is the band of that area within 18 km of the line of contact (drawn with shapely in a
# local km projection, simplified to ~1 km and rounded to 0.001°), so its outer edge is the contact line.

DE_ESCALATION_AREA_RING = [
    [36.06, 35.93], [36.12, 35.84], [36.18, 35.76], [36.26, 35.70], [36.30, 35.60], [36.31, 35.50],
    [36.33, 35.42], [36.38, 35.385], [36.46, 35.385], [36.52, 35.36], [36.58, 35.29], [36.64, 35.285],
    [36.72, 35.32], [36.80, 35.40], [36.88, 35.50], [36.93, 35.60], [36.97, 35.72], [36.98, 35.85],
    [37.01, 35.98], [37.05, 36.10], [37.07, 36.18], [37.05, 36.28], [36.98, 36.35], [36.85, 36.37],
    [36.70, 36.33], [36.55, 36.24], [36.42, 36.15], [36.25, 36.04], [36.12, 35.97], [36.06, 35.93],
]  # fmt: skip

DMZ_RING = [
    # outer edge: the line of contact, from the Latakia hills south, then east, then north to west of Aleppo
    [36.067, 35.929], [36.184, 35.763], [36.265, 35.702], [36.305, 35.601], [36.335, 35.422], [36.382, 35.39],
    [36.461, 35.389], [36.523, 35.364], [36.583, 35.294], [36.639, 35.29], [36.716, 35.324], [36.796, 35.403],
    [36.875, 35.502], [36.925, 35.601], [36.965, 35.721], [36.975, 35.851], [37.005, 35.981], [37.064, 36.18],
    [37.045, 36.278], [36.977, 36.346], [36.85, 36.365],
    # inner edge, about 18 km in: back south from the Afrin edge, west across southern Idlib, north to the border
    [36.781, 36.347], [36.796, 36.288], [36.862, 36.211], [36.868, 36.183], [36.814, 36.01], [36.784, 35.88],
    [36.773, 35.747], [36.741, 35.652], [36.703, 35.576], [36.635, 35.492], [36.505, 35.543], [36.495, 35.632],
    [36.442, 35.766], [36.409, 35.808], [36.335, 35.865], [36.225, 36.021],
    [36.067, 35.929],
]  # fmt: skip

ZONES = (
    {
        "slug": "de-escalation-area",
        "name": "Idlib de-escalation area",
        "kind": Zone.Kind.DE_ESCALATION_AREA,
        "clause": "1",
        "geometry": {"type": "Polygon", "coordinates": [DE_ESCALATION_AREA_RING]},
        "precision": Zone.Precision.APPROXIMATE,
        "description": "The opposition-held area around Idlib that the memorandum keeps as a de-escalation area, "
        "home to about 3.5 million civilians. Drawn approximately along the 2018 line of contact and the Turkish "
        "border for the demo; not an authoritative boundary.",
    },
    {
        "slug": "dmz",
        "name": "Idlib demilitarised zone",
        "kind": Zone.Kind.DEMILITARISED_ZONE,
        "clause": "3",
        "geometry": {"type": "Polygon", "coordinates": [DMZ_RING]},
        "depth_km_min": Decimal("15"),
        "depth_km_max": Decimal("20"),
        "precision": Zone.Precision.APPROXIMATE,
        "description": "The 15–20 km demilitarised zone of clause 3. Its lines were left to later consultations "
        "and never published: this polygon is an approximation (a band about 18 km deep inside the 2018 line "
        "of contact) so that in-zone checks can be demonstrated. It is not authoritative.",
    },
)

# --- the source --------------------------------------------------------------------------------------------------

SOURCE = {
    "publisher": "TRT World",
    "title": "Idlib's escalation and the unravelling of the Sochi deal",
    "url": "https://www.trtworld.com/opinion/idlib-escalation-and-the-unravelling-of-the-sochi-deal",
    "kind": Source.Kind.OPINION,
    "reliability": Source.Reliability.C,
    "credibility": Source.Credibility.POSSIBLY_TRUE,
    "notes": "Opinion piece of TRT World, a Turkish state broadcaster: a partisan secondary source (graded C3). "
    "Its humanitarian figures are cited from the UN humanitarian office (OCHA). Every event resting on it alone "
    "needs corroboration. Title and address are as recorded for the demo; check them against the published "
    "article (and add its date) before citing it outside the demo.",
}

# --- violations --------------------------------------------------------------------------------------------------
# All "reported": one partisan source verifies nothing. `place` is a place name from PLACES; clauses are numbers;
# actors are demo slugs. `citation` is what the source says about this incident in particular.

HUMANITARIAN_NOTE = "Figures the article cites from OCHA for 1–16 May 2019."

VIOLATIONS = (
    {
        "key": "2019-01-hts-expansion",
        "category": Violation.Category.ARMED_GROUP_IN_ZONE,
        "clauses": ("5",),
        "perpetrators": ("hayat-tahrir-al-sham",),
        "affected": ("national-front-for-liberation",),
        "started_at": _utc(2019, 1, 1),
        "time_precision": Violation.TimePrecision.WEEK,
        "place": "Idlib Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "Early January 2019: Hayat Tahrir al-Sham attacks Turkish-backed opposition factions and "
        "extends its control inside the demilitarised zone, which radical groups were to have left by 15 October "
        "2018. The source dates it only to early January and places it no more precisely than the Idlib area.",
    },
    {
        "key": "2019-early-shelling-after-patrols",
        "category": Violation.Category.SHELLING,
        "clauses": ("7", "2"),
        "perpetrators": ("syrian-arab-army",),
        "affected": (),
        "started_at": _utc(2019, 1, 1),
        "ended_at": _utc(2019, 4, 30),
        "time_precision": Violation.TimePrecision.MONTH,
        "place": "Idlib Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "Early 2019: government forces shell areas patrolled by Turkish forces soon after the "
        "Turkish patrols leave. The source dates this only to 'early 2019' (recorded as January–April) and "
        "names no place.",
    },
    {
        "key": "2019-04-air-bombardment",
        "category": Violation.Category.AIRSTRIKE,
        "clauses": ("2", "9"),
        "perpetrators": ("russian-aerospace-forces", "syrian-arab-air-force"),
        "affected": (),
        "started_at": _utc(2019, 4, 22),
        "ended_at": _utc(2019, 5, 5),
        "time_precision": Violation.TimePrecision.WEEK,
        "place": "Idlib Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "Late April – early May 2019, before the ground operation: Russian and Syrian air forces "
        "step up their bombardment of Idlib. The source gives no dates or targets beyond this.",
    },
    {
        "key": "2019-04-barrel-bombs",
        "category": Violation.Category.BARREL_BOMB,
        "clauses": ("2", "9"),
        "perpetrators": ("syrian-arab-air-force",),
        "affected": (),
        "started_at": _utc(2019, 4, 22),
        "ended_at": _utc(2019, 5, 5),
        "time_precision": Violation.TimePrecision.WEEK,
        "place": "Idlib Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "Late April – early May 2019: barrel bombs dropped on civilian areas of Idlib as part of "
        "the stepped-up bombardment. The source names no particular place or date.",
    },
    {
        "key": "2019-05-06-ground-operation",
        "category": Violation.Category.GROUND_ASSAULT,
        "clauses": ("2", "9", "3"),
        "perpetrators": ("syrian-arab-army", "russian-aerospace-forces"),
        "affected": (),
        "started_at": _utc(2019, 5, 6),
        "time_precision": Violation.TimePrecision.DAY,
        "place": "Kafr Nabudah",
        "location_precision": Violation.LocationPrecision.TOWN,
        "description": "6 May 2019: government forces, with Russian air support, open a ground operation in "
        "western rural Hama (the Ghab plain) against the opposition-held towns of the demilitarised zone, "
        "Kafr Nabudah among them. Iranian-backed militias take no part, according to the source.",
    },
    {
        "key": "2019-05-06-capture",
        "category": Violation.Category.TERRITORIAL_CAPTURE,
        "clauses": ("2", "9", "3"),
        "perpetrators": ("syrian-arab-army",),
        "affected": (),
        "started_at": _utc(2019, 5, 6),
        "time_precision": Violation.TimePrecision.WEEK,
        "place": "Kafr Nabudah",
        "location_precision": Violation.LocationPrecision.TOWN,
        "description": "From 6 May 2019: in the ground operation, government forces take 21 locations inside the "
        "demilitarised zone, two of them strategic towns: Kafr Nabudah and, as reports have it, Qalaat al-Madiq "
        "(a second source is needed for that one). The other 19 are not named. Recorded at Kafr Nabudah; the "
        "source does not say on which day each location fell.",
    },
    {
        "key": "2019-05-opposition-reinforcement",
        "category": Violation.Category.OTHER,
        "clauses": ("9",),
        "perpetrators": ("national-front-for-liberation", "syrian-national-army"),
        "affected": ("syrian-arab-army",),
        "started_at": _utc(2019, 5, 7),
        "ended_at": _utc(2019, 5, 13),
        "time_precision": Violation.TimePrecision.WEEK,
        "place": "Hama Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "In the first week after 6 May 2019 the opposition halts the government advance, with "
        "reinforcements and guided anti-tank missiles supplied from Turkey; Syrian National Army fighters come "
        "down from northern Aleppo to join. The source gives no places or dates within the week.",
    },
    {
        "key": "2019-05-21-counter-attack",
        "category": Violation.Category.GROUND_ASSAULT,
        "clauses": ("9", "5"),
        "perpetrators": ("national-front-for-liberation", "hayat-tahrir-al-sham"),
        "affected": ("syrian-arab-army",),
        "started_at": _utc(2019, 5, 21),
        "time_precision": Violation.TimePrecision.DAY,
        "place": "Kafr Nabudah",
        "location_precision": Violation.LocationPrecision.TOWN,
        "description": "Night of 21 May 2019: the National Front for Liberation and Hayat Tahrir al-Sham "
        "counter-attack and retake Kafr Nabudah from government forces.",
    },
    {
        "key": "2019-05-26-retaking",
        "category": Violation.Category.GROUND_ASSAULT,
        "clauses": ("2", "9", "3"),
        "perpetrators": ("syrian-arab-army", "russian-aerospace-forces"),
        "affected": ("national-front-for-liberation",),
        "started_at": _utc(2019, 5, 26),
        "time_precision": Violation.TimePrecision.DAY,
        "place": "Kafr Nabudah",
        "location_precision": Violation.LocationPrecision.TOWN,
        "description": "26 May 2019: government forces, with heavy Russian air support, retake Kafr Nabudah. "
        "Firing seven guided anti-tank missiles, the opposition destroys three armoured vehicles, a tank, three "
        "other vehicles and two artillery pieces, then withdraws. The source gives no casualty figures.",
    },
    {
        "key": "2019-05-humanitarian-impact",
        "category": Violation.Category.AIRSTRIKE,
        "clauses": ("2", "9"),
        "perpetrators": ("russian-aerospace-forces", "syrian-arab-air-force"),
        "affected": (),
        "started_at": _utc(2019, 5, 1),
        "ended_at": _utc(2019, 5, 16),
        "time_precision": Violation.TimePrecision.DAY,
        "place": "Idlib Governorate",
        "location_precision": Violation.LocationPrecision.REGION,
        "description": "1–16 May 2019, humanitarian toll of the offensive: more than 200,000 people displaced; "
        "20 health facilities, 3 settlements of displaced people and 1 refugee camp reported hit. Casualties are "
        "not given. Figures from the UN humanitarian office (OCHA), as the source cites them; 200,000 is a floor.",
        "displaced": 200000,
        "health_facilities_hit": 20,
        "idp_sites_hit": 3,
        "camps_hit": 1,
        "citation": HUMANITARIAN_NOTE,
    },
)

# No demo violation is placed at Idlib city: the source speaks of the bombardment of "Idlib" without naming the
# city, and a town-precision record there would claim more than it says (a coarser one has no in-zone answer).

# --- control changes, patrols, route statuses ------------------------------------------------------------------
# `place` None means the source gives a number of locations without naming them; `violation` is an event key.

CONTROL_CHANGES = (
    {
        "occurred_on": date(2019, 5, 6),
        "date_precision": "week",
        "place": "Kafr Nabudah",
        "locations": 1,
        "from_actor": None,
        "to_actor": "syrian-arab-army",
        "violation": "2019-05-06-capture",
        "notes": "Taken in the operation that began on 6 May; the source does not say which day it fell or who "
        "held it.",
    },
    {
        "occurred_on": date(2019, 5, 6),
        "date_precision": "week",
        "place": "Qalaat al-Madiq",
        "locations": 1,
        "from_actor": None,
        "to_actor": "syrian-arab-army",
        "violation": "2019-05-06-capture",
        "notes": "Needs a second source: the source counts two strategic towns among the 21 locations and "
        "reports name Qalaat al-Madiq as the second.",
    },
    {
        "occurred_on": date(2019, 5, 6),
        "date_precision": "week",
        "place": None,
        "area_description": "19 other locations in western rural Hama (unnamed in the source)",
        "locations": 19,
        "from_actor": None,
        "to_actor": "syrian-arab-army",
        "violation": "2019-05-06-capture",
        "notes": "The rest of the 21 locations taken in the operation that began on 6 May.",
    },
    {
        "occurred_on": date(2019, 5, 21),
        "date_precision": "day",
        "place": "Kafr Nabudah",
        "locations": 1,
        "from_actor": "syrian-arab-army",
        "to_actor": "national-front-for-liberation",
        "violation": "2019-05-21-counter-attack",
        "notes": "Retaken at night together with Hayat Tahrir al-Sham.",
    },
    {
        "occurred_on": date(2019, 5, 26),
        "date_precision": "day",
        "place": "Kafr Nabudah",
        "locations": 1,
        "from_actor": "national-front-for-liberation",
        "to_actor": "syrian-arab-army",
        "violation": "2019-05-26-retaking",
        "notes": "Retaken by government forces with heavy Russian air support; the opposition withdraws.",
    },
)

PATROLS = (
    {
        "patrolled_on": date(2019, 1, 1),
        "date_precision": "month",
        "kind": Patrol.Kind.COORDINATED,
        "clause": "7",
        "participants": ("turkish-armed-forces", "russian-military-police"),
        "outcome": Patrol.Outcome.COMPLETED,
        "incidents": ("2019-early-shelling-after-patrols",),
        "notes": "Separate but coordinated Turkish and Russian patrols in early 2019 (the source gives no days or "
        "routes; the date is the start of that period). Government shelling hit patrolled areas soon after "
        "Turkish patrols left.",
    },
)

ROUTE_STATUSES = tuple(
    {
        "route": route,
        "segment": "",
        "observed_on": date(2018, 12, 31),
        "status": RouteStatus.Status.CLOSED,
        "clause": "8",
        "notes": f"{route} ({towns}) not reopened to transit by the end-2018 deadline.",
    }
    for route, towns in (("M4", "Aleppo–Latakia"), ("M5", "Aleppo–Hama"))
)


# --- the loader --------------------------------------------------------------------------------------------------

# The order in which counts are kept and reported.
COUNTED_MODELS = (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    Place,
    PlaceAlias,
    Zone,
    Source,
    Violation,
    ViolationSource,
    ControlChange,
    Patrol,
    RouteStatus,
)

LABELS = {ViolationSource: ("citation", "citations")}


def describe(counts: dict[str, int]) -> str:
    """ "Created 1 agreement, 10 clauses, …" for the counts `load()` returns; "" when nothing was created."""
    models = {model.__name__: model for model in COUNTED_MODELS}
    parts = []
    for name, count in counts.items():
        if not count:
            continue
        model = models.get(name)
        if model is None:
            singular, plural = name.lower(), f"{name.lower()}s"
        else:
            singular, plural = LABELS.get(model, (model._meta.verbose_name, model._meta.verbose_name_plural))
        parts.append(f"{count} {singular if count == 1 else plural}")
    return f"Created {', '.join(parts)}." if parts else ""


def load(user=None, stdout=None) -> dict[str, int]:
    """Load the Sochi demo; return how many rows of each model were created (all zero when already loaded)."""
    with transaction.atomic():
        loader = _Loader(user=user, stdout=stdout)
        loader.run()
    return loader.counts


class _Loader:
    def __init__(self, *, user, stdout):
        self.stdout = stdout
        self.counts: dict[str, int] = {model.__name__: 0 for model in COUNTED_MODELS} | {"User": 0}
        self.user = user if user is not None else self._demo_user()
        self.actors: dict[str, Actor] = {}
        self.clauses: dict[str, Clause] = {}
        self.places: dict[str, Place] = {}
        self.violations: dict[str, Violation] = {}

    def _demo_user(self):
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User(username=DEMO_USERNAME, is_staff=False, is_superuser=False)
            user.set_unusable_password()
            user.save()
            self.counts["User"] = 1
            self._say(f"Created user {DEMO_USERNAME!r} (no password, cannot log in) to attribute the demo records.")
        # The services ask the user's role: the demo's entries are a monitor's (and the reference an admin's).
        user.groups.add(*Group.objects.filter(name__in=["monitor", "admin"]))
        return user

    def _say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def _created(self, model) -> None:
        self.counts[model.__name__] += 1

    def _save(self, instance, **m2m):
        services.record_save(instance=instance, user=self.user, m2m=m2m or None)
        self._created(type(instance))
        return instance

    def run(self) -> None:
        self.load_actors()
        self.load_agreement()
        self.load_clauses()
        self.load_places()
        self.load_zones()
        self.load_source()
        self.load_violations()
        self.load_control_changes()
        self.load_patrols()
        self.load_route_statuses()

    # actors and the agreement

    def load_actors(self) -> None:
        for spec in ACTORS:
            actor = Actor.objects.filter(slug=spec["slug"]).first() or Actor.objects.filter(name=spec["name"]).first()
            if actor is None:
                actor = Actor(
                    slug=spec["slug"],
                    name=spec["name"],
                    short_name=spec.get("short_name", ""),
                    kind=spec["kind"],
                    country=spec.get("country", ""),
                    part_of=self.actors[spec["part_of"]] if spec.get("part_of") else None,
                    description=spec["description"],
                )
                self._save(actor, backed_by=[self.actors[slug] for slug in spec.get("backed_by", ())])
            self.actors[spec["slug"]] = actor
            for name, language in spec["aliases"]:
                if not ActorAlias.objects.filter(actor=actor, name=name).exists():
                    self._save(ActorAlias(actor=actor, name=name, language=language))

    def load_agreement(self) -> None:
        self.agreement = Agreement.objects.filter(slug=AGREEMENT["slug"]).first()
        if self.agreement is None:
            self.agreement = self._save(Agreement(**AGREEMENT))
        for slug, role in PARTIES:
            actor = self.actors[slug]
            if not AgreementParty.objects.filter(agreement=self.agreement, actor=actor, role=role).exists():
                self._save(AgreementParty(agreement=self.agreement, actor=actor, role=role))

    def load_clauses(self) -> None:
        for position, spec in enumerate(CLAUSES, start=1):
            clause = Clause.objects.filter(agreement=self.agreement, number=spec["number"]).first()
            if clause is None:
                clause = Clause(
                    agreement=self.agreement,
                    number=spec["number"],
                    position=position,
                    title=spec["title"],
                    text=spec["text"],
                    kind=spec["kind"],
                    deadline=spec.get("deadline"),
                    terms=self._terms(spec["kind"], spec["terms"]),
                )
                services.clause_save(
                    clause=clause, user=self.user, obligated_actors=[self.actors[s] for s in spec["obligated"]]
                )
                self._created(Clause)
            self.clauses[spec["number"]] = clause

    def _terms(self, kind: str, terms: dict) -> dict:
        """The terms with demo actor slugs replaced by the slugs the actors have in this database."""
        named = actor_slugs_in_terms(kind, terms)
        return {key: [self.actors[s].slug for s in value] if key in named else value for key, value in terms.items()}

    # places and zones

    def load_places(self) -> None:
        for spec in PLACES:
            found = Place.objects.filter(name=spec["name"], admin1=spec["admin1"])
            place = found.filter(admin2="").first() or found.first()
            if place is None:
                place = Place(**{key: value for key, value in spec.items() if key != "aliases"})
                services.place_save(place=place, user=self.user)
                self._created(Place)
            self.places[spec["name"]] = place
            for name, language in spec["aliases"]:
                if not PlaceAlias.objects.filter(place=place, name=name).exists():
                    self._save(PlaceAlias(place=place, name=name, language=language))

    def load_zones(self) -> None:
        for spec in ZONES:
            if Zone.objects.filter(agreement=self.agreement, slug=spec["slug"]).exists():
                continue
            fields = {key: value for key, value in spec.items() if key != "clause"}
            zone = Zone(agreement=self.agreement, clause=self.clauses[spec["clause"]], **fields)
            services.zone_save(zone=zone, user=self.user)
            self._created(Zone)

    # what happened

    def load_source(self) -> None:
        self.source = Source.objects.filter(url=SOURCE["url"]).first()
        if self.source is None:
            self.source = self._save(Source(**SOURCE))

    def load_violations(self) -> None:
        for spec in VIOLATIONS:
            public_id = violation_uuid(spec["key"])
            violation = Violation.objects.filter(uuid=public_id).first()
            if violation is None:
                fields = {
                    key: value
                    for key, value in spec.items()
                    if key not in {"key", "clauses", "perpetrators", "affected", "place", "citation"}
                }
                violation = services.violation_record(
                    user=self.user,
                    agreement=self.agreement,
                    clauses=[self.clauses[number] for number in spec["clauses"]],
                    perpetrators=[self.actors[slug] for slug in spec["perpetrators"]],
                    affected_actors=[self.actors[slug] for slug in spec["affected"]],
                    uuid=public_id,
                    place=self.places[spec["place"]],
                    **fields,
                )
                self._created(Violation)
                services.violation_cite(
                    violation=violation,
                    source=self.source,
                    user=self.user,
                    note=spec.get("citation", ""),
                    new_record=True,  # cited as it is recorded: part of its first version
                )
                self._created(ViolationSource)
            self.violations[spec["key"]] = violation

    def load_control_changes(self) -> None:
        for spec in CONTROL_CHANGES:
            place = self.places[spec["place"]] if spec["place"] else None
            key = {"agreement": self.agreement, "occurred_on": spec["occurred_on"], "place": place}
            found = ControlChange.objects.filter(**key)
            if place is None:  # unnamed locations are told apart by how the source describes them
                found = found.filter(area_description=spec["area_description"])
            if found.exists():
                continue
            self._save(
                ControlChange(
                    **key,
                    area_description=spec.get("area_description", ""),
                    locations=spec["locations"],
                    date_precision=spec["date_precision"],
                    from_actor=self.actors[spec["from_actor"]] if spec["from_actor"] else None,
                    to_actor=self.actors[spec["to_actor"]],
                    violation=self.violations[spec["violation"]],
                    source=self.source,
                    notes=spec["notes"],
                )
            )

    def load_patrols(self) -> None:
        for spec in PATROLS:
            key = {"agreement": self.agreement, "patrolled_on": spec["patrolled_on"], "kind": spec["kind"]}
            if Patrol.objects.filter(**key).exists():
                continue
            patrol = Patrol(
                **key,
                clause=self.clauses[spec["clause"]],
                date_precision=spec["date_precision"],
                outcome=spec["outcome"],
                source=self.source,
                notes=spec["notes"],
            )
            self._save(
                patrol,
                participants=[self.actors[slug] for slug in spec["participants"]],
                incidents=[self.violations[k] for k in spec["incidents"]],
            )

    def load_route_statuses(self) -> None:
        for spec in ROUTE_STATUSES:
            key = {
                "agreement": self.agreement,
                "route": spec["route"],
                "segment": spec["segment"],
                "observed_on": spec["observed_on"],
            }
            if RouteStatus.objects.filter(**key).exists():
                continue
            self._save(
                RouteStatus(
                    **key,
                    status=spec["status"],
                    clause=self.clauses[spec["clause"]],
                    source=self.source,
                    notes=spec["notes"],
                )
            )
