"""What a visitor may see of a photo's metadata (the rule is written here once; serializers apply it).

Curators see everything that is stored. Everyone else sees an allow-list of EXIF fields (camera, lens,
exposure, date taken, orientation, size), so nothing read later (serial numbers, owner names, software)
can leave by accident, and the location as the gallery's ``locationPrivacy`` says: none (``hidden``, the
default), latitude and longitude rounded to 2 decimals without altitude (``approximate``: about a
kilometre), or as recorded (``exact``).
"""

PUBLIC_EXIF_FIELDS = (
    "make",
    "model",
    "lensModel",
    "exposureTime",
    "fNumber",
    "iso",
    "focalLength",
    "focalLength35mm",
    "dateTimeOriginal",
    "orientation",
    "width",
    "height",
)
APPROXIMATE_DECIMALS = 2


def exif_for(exif: dict, *, curator: bool, location_privacy: str) -> dict:
    """The EXIF a viewer may see: all of it for a curator, the allow-list and the gallery's location rule
    for anyone else."""
    if curator:
        return dict(exif)
    shown = {field: exif[field] for field in PUBLIC_EXIF_FIELDS if field in exif}
    gps = exif.get("gps")
    if isinstance(gps, dict) and location_privacy == "exact":
        shown["gps"] = dict(gps)
    elif isinstance(gps, dict) and location_privacy == "approximate":
        rounded = {
            axis: round(float(gps[axis]), APPROXIMATE_DECIMALS)
            for axis in ("latitude", "longitude")
            if axis in gps
        }
        if len(rounded) == 2:
            shown["gps"] = rounded
    return shown
