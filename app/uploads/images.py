"""Image checks and resized variants with Pillow (sans-I/O: bytes in, bytes out).

Variants are re-encoded from decoded pixels, so no EXIF (GPS included), XMP, ICC text or comments
survive; the EXIF orientation is applied first. Bombs and corrupt files raise ``ImageRejected``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "VARIANT_SIZES",
    "ImageRejected",
    "ProcessedImage",
    "Variant",
    "process_image",
]

#: Largest accepted image (width x height): 50 megapixels, below Pillow's own bomb warning.
MAX_IMAGE_PIXELS = 50_000_000
#: Longest side of each variant, in pixels; a variant is made only when the image is larger.
VARIANT_SIZES = (256, 1024)
_ALLOWED_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class ImageRejected(ValueError):
    """The image cannot be accepted; ``code`` is the API error code (``image_too_large``, ``corrupt_image``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Variant:
    name: str
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    width: int
    height: int
    variants: list[Variant]


def process_image(
    data: bytes, expected_format: str, sizes: tuple[int, ...] = VARIANT_SIZES
) -> ProcessedImage:
    """Decode ``data`` (which must be ``expected_format``), check it, and make the variants."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[expected_format])
            if image.format not in _ALLOWED_FORMATS or image.format != expected_format:
                raise ImageRejected("corrupt_image", "the image's format does not match its bytes")
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > MAX_IMAGE_PIXELS:
                raise ImageRejected(
                    "image_too_large",
                    f"the image is {width}x{height} pixels; at most {MAX_IMAGE_PIXELS:,} are accepted",
                )
            image.load()
            oriented = ImageOps.exif_transpose(image)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            "image_too_large", "the image decompresses to too many pixels"
        ) from None
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        TypeError,
    ):
        raise ImageRejected("corrupt_image", "the image is corrupt or truncated") from None
    width, height = oriented.size
    variants = [_variant(oriented, size) for size in sizes]
    return ProcessedImage(width, height, variants)


def _variant(image: Image.Image, size: int) -> Variant:
    """``image`` scaled so its longest side is at most ``size``, re-encoded without metadata."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    copy = image.convert("RGBA" if has_alpha else "RGB")
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if has_alpha:
        copy.save(out, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        copy.save(out, format="JPEG", quality=85, optimize=True)
        content_type = "image/jpeg"
    return Variant(str(size), out.getvalue(), content_type, copy.width, copy.height)
