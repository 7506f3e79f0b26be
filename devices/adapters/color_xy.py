"""Pure colour conversions for adapter specs: sRGB [r, g, b] to CIE 1931 xy and back (Philips Hue's formulas)."""

from __future__ import annotations

# Philips' "RGB to xy" conversion (developers.meethue.com, Color conversion formulas): gamma-correct each
# sRGB channel, then the Wide RGB D65 matrix to XYZ, then x = X / (X + Y + Z), y = Y / (X + Y + Z). No gamut
# clamp here: the bridge maps an xy outside a lamp's gamut to the nearest colour the lamp can make.
_TO_XYZ = ((0.664511, 0.154324, 0.162028),
           (0.283881, 0.668433, 0.047685),
           (0.000088, 0.072310, 0.986039))
# ... and its inverse, from the same page (XYZ -> linear RGB).
_FROM_XYZ = ((1.656492, -0.354851, -0.255038),
             (-0.707196, 1.655397, 0.036152),
             (0.051713, -0.121364, 1.011530))


class ColorError(ValueError):
    """A colour that cannot be converted (black has no xy; an xy with y = 0 has no colour)."""


def _linear(channel: int) -> float:
    c = channel / 255
    return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92


def _gamma(linear: float) -> float:
    return 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055


def rgb_to_xy(rgb: list[int] | tuple[int, int, int]) -> list[float]:
    """CIE xy (4 decimals, as the Hue bridge keeps them) of an sRGB colour, each channel 0-255."""
    r, g, b = (_linear(int(c)) for c in rgb)
    x_, y_, z_ = (m[0] * r + m[1] * g + m[2] * b for m in _TO_XYZ)
    total = x_ + y_ + z_
    if total <= 0:
        raise ColorError("black [0, 0, 0] has no colour to set (turn the light off instead)")
    return [round(x_ / total, 4), round(y_ / total, 4)]


def xy_to_rgb(xy: list[float] | tuple[float, float]) -> list[int]:
    """The brightest sRGB colour [r, g, b] (0-255) with chromaticity xy; brightness is reported apart."""
    x, y = float(xy[0]), float(xy[1])
    if not (0.0 <= x <= 1.0 and 0.0 < y <= 1.0):
        raise ColorError(f"xy [{x:g}, {y:g}] is not a colour (x in 0-1, y in (0, 1])")
    big_y = 1.0
    big_x, big_z = big_y / y * x, big_y / y * (1.0 - x - y)
    linear = [max(0.0, m[0] * big_x + m[1] * big_y + m[2] * big_z) for m in _FROM_XYZ]
    top = max(linear)
    if top <= 0:
        raise ColorError(f"xy [{x:g}, {y:g}] is outside every RGB gamut")
    return [round(255 * min(1.0, max(0.0, _gamma(c / top)))) for c in linear]
