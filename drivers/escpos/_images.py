"""ESC/POS bit images as 1-bit PIL images (0 = black) at printer dot scale: ``GS v 0`` and
``GS ( L`` rasters (rows of bits) and ``ESC *`` column stripes.
"""

from __future__ import annotations

from PIL import Image

__all__ = ["bits_to_image", "column_image", "scaled"]


def bits_to_image(data: bytes, width: int, height: int) -> Image.Image:
    """Row-major, MSB-first bitmap (1 = printed dot) → 1-bit PIL image (0 = black)."""
    row_bytes = (width + 7) // 8
    needed = row_bytes * height
    padded = bytes(data[:needed]).ljust(needed, b"\x00")
    inverted = bytes(~b & 0xFF for b in padded)
    image = Image.frombytes("1", (row_bytes * 8, height), inverted)
    return image.crop((0, 0, width, height)) if row_bytes * 8 != width else image


def scaled(image: Image.Image, x: int, y: int) -> Image.Image:
    if x == 1 and y == 1:
        return image
    return image.resize((image.width * x, image.height * y), Image.Resampling.NEAREST)


def column_image(mode: int, data: bytes) -> Image.Image:
    """ESC * data (columns of 8 or 24 dots, MSB on top) → image, at printer dot scale."""
    per_column = 1 if mode in (0, 1) else 3
    columns = len(data) // per_column
    height = per_column * 8
    image = Image.new("1", (max(columns, 1), height), 1)
    pixels = image.load()
    assert pixels is not None
    for col in range(columns):
        for part in range(per_column):
            byte = data[col * per_column + part]
            for bit in range(8):
                if byte & (0x80 >> bit):
                    pixels[col, part * 8 + bit] = 0
    # TM-T88: single density halves horizontal resolution; 8-dot modes are 60 dpi tall.
    return scaled(image, 2 if mode in (0, 32) else 1, 3 if mode in (0, 1) else 1)
