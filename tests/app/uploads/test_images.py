"""Image variants: orientation applied, metadata stripped, bombs and corrupt files rejected."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from app.uploads.images import ImageRejected, process_image
from tests.app.uploads.conftest import image_bytes


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    return exif


def test_process_image_makes_variants_without_metadata() -> None:
    result = process_image(image_bytes(2000, 1000, "JPEG", gps_exif()), "JPEG")
    assert (result.width, result.height) == (2000, 1000)
    assert [(v.name, v.width, v.height, v.content_type) for v in result.variants] == [
        ("256", 256, 128, "image/jpeg"),
        ("1024", 1024, 512, "image/jpeg"),
    ]
    for variant in result.variants:
        decoded = Image.open(io.BytesIO(variant.data))
        assert dict(decoded.getexif()) == {}
        assert b"SpyCam" not in variant.data and "exif" not in decoded.info


def test_process_image_applies_orientation() -> None:
    # Orientation 6: the stored pixels are rotated; viewers turn them 90 degrees clockwise.
    result = process_image(image_bytes(400, 200, "JPEG", gps_exif(orientation=6)), "JPEG")
    assert (result.width, result.height) == (200, 400)
    variant = Image.open(io.BytesIO(result.variants[0].data))
    assert variant.size == (128, 256)
    top, bottom = variant.getpixel((64, 10)), variant.getpixel((64, 246))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[1] > 200 and bottom[1] < 100  # the white half is now on top


def test_process_image_keeps_transparency_as_png() -> None:
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    variant = process_image(out.getvalue(), "PNG").variants[0]
    assert variant.content_type == "image/png"
    assert Image.open(io.BytesIO(variant.data)).mode == "RGBA"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (8000, 8000, "the image is 8000x8000 pixels; at most 50,000,000 are accepted"),
        (100_000, 100_000, "the image decompresses to too many pixels"),  # Pillow's own bomb check
    ],
)
def test_process_image_rejects_a_bomb(width: int, height: int, message: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image(png_header_only(width, height), "PNG")
    assert (caught.value.code, str(caught.value)) == ("image_too_large", message)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (image_bytes(300, 300, "PNG")[:200], "PNG"),
        (image_bytes(300, 300, "JPEG")[:300], "JPEG"),
        (b"GIF89a" + b"\x00" * 20, "GIF"),
        (image_bytes(50, 50, "PNG"), "JPEG"),
    ],
)
def test_process_image_rejects_corrupt(data: bytes, fmt: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image(data, fmt)
    assert caught.value.code == "corrupt_image"
