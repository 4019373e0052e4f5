"""The sizes and formats of renditions (pure: no Django, no Pillow), shared by the pipeline that makes
them (``photos.imaging``), the settings that choose them (``photos.prepare``) and the answers that
describe them (``photos.renditions``, ``photos.serializers``)."""

# The long edges of the renditions every photo gets (never enlarged: a smaller photo gets those below its
# own size, and its own size), for phones (400, 800), laptops (1600) and 4K/retina screens (2560).
EDGES = (400, 800, 1600, 2560)


# Every format a rendition can be written in: (file extension, content type). JPEG and WebP always; AVIF
# when PHOTO_AVIF_RENDITIONS (bench/imaging.py prints its cost).
RENDITION_FORMATS: dict[str, tuple[str, str]] = {
    "jpeg": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
    "avif": ("avif", "image/avif"),
}
DEFAULT_FORMATS = ("jpeg", "webp")


def fit(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """Scale ``size`` so its long edge is ``long_edge``, keeping the aspect ratio; never enlarges."""
    width, height = size
    if max(width, height) <= long_edge:
        return width, height
    if width >= height:
        return long_edge, max(1, round(height * long_edge / width))
    return max(1, round(width * long_edge / height)), long_edge
