"""Draw the sample digit images that ship with the package (``mnist_helpers/sample_digits/``);
chapter 10 and the predict tests use them.

Run ``python tools/make_sample_digits.py`` to write them again. The tests check that the committed
files are exactly what this script draws (``tests/digit_images.py`` loads it), so they stay
script-made: Pillow's drawing, no randomness.

Each file's name says its digit, second: ``typed_3_dark_on_light.png`` shows a 3.

* ``sample_digits/*.png`` (``mh.sample_digit_files()``, :func:`write_all`): clean digits, typed in
  Pillow's font or drawn with a thick pen, in the colour schemes a photo or a scan comes in (dark on
  light, light on dark, colour).
* ``sample_digits/hard/*.png`` (:func:`write_hard`): digits drawn the way people write them, each
  with one difficulty: turned by 40 degrees, a thin pen, small and off-centre on a large page,
  pencil-grey on grey paper, half the page in shadow, a 7 with a crossbar and a 1 with a flag and
  a foot (both common in continental Europe). Chapter 10 shows what the model makes of them.
"""
from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ASSETS = Path(__file__).resolve().parent.parent / "mnist_helpers" / "sample_digits"

PAPER, INK = 235, 25
"""Grey levels of the paper and of a dark pen in the hard_* images."""


# --------------------------------------------------------------------------- clean digits
def draw_typed(digit: int, size=(180, 240), dark_on_light: bool = True, font_size: int = 150) -> Image.Image:
    """A digit typed in Pillow's bundled font, off-centre on a canvas of any size."""
    ink, paper = (0, 255) if dark_on_light else (255, 0)
    image = Image.new("L", size, paper)
    font = ImageFont.load_default(size=font_size)
    ImageDraw.Draw(image).text((size[0] * 0.3, size[1] * 0.15), str(digit), fill=ink, font=font)
    return image


def draw_seven(size=(300, 300)) -> Image.Image:
    """A 7 drawn with a thick pen, dark ink on light paper, in colour (RGB)."""
    image = Image.new("RGB", size, (235, 230, 220))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.line([(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.42 * w, 0.85 * h)], fill=(20, 20, 60),
              width=int(0.06 * w), joint="curve")
    return image


def draw_zero(size=(120, 160)) -> Image.Image:
    """A 0 drawn as a light ellipse on a dark background, like MNIST itself."""
    image = Image.new("L", size, 10)
    w, h = size
    ImageDraw.Draw(image).ellipse([0.2 * w, 0.15 * h, 0.8 * w, 0.85 * h], outline=240, width=int(0.1 * w))
    return image


# --------------------------------------------------------------------------- handwritten strokes
def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, steps: int = 24):
    """Points along an ellipse from angle ``start`` to ``stop`` (degrees, counter-clockwise as seen, y down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy - ry * math.sin(math.radians(a)))
            for a in (start + (stop - start) * i / steps for i in range(steps + 1))]


STROKES = {
    # Each digit as pen strokes in a unit box (x right, y down); a stroke is a list of points.
    1: [[(0.15, 0.32), (0.55, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]],   # flag and foot
    2: [_arc(0.5, 0.28, 0.42, 0.28, 160, -35) + [(0.05, 1.0), (1.0, 1.0)]],
    4: [[(0.62, 0.0), (0.0, 0.68), (1.0, 0.68)], [(0.62, 0.0), (0.62, 1.0)]],
    6: [[(0.78, 0.0), (0.3, 0.45)] + _arc(0.5, 0.72, 0.32, 0.28, 155, 155 - 360)],
    7: [[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)], [(0.38, 0.52), (0.95, 0.52)]],       # with a crossbar
    8: [_arc(0.5, 0.25, 0.3, 0.25, 0, 360), _arc(0.5, 0.73, 0.38, 0.27, 0, 360)],
    9: [_arc(0.48, 0.3, 0.32, 0.3, 0, 360), [(0.8, 0.3), (0.72, 1.0)]],
}
"""Pen strokes of the hand-drawn digits."""


def draw_strokes(digit: int, size=(300, 300), box=(0.3, 0.15, 0.7, 0.85), pen: float = 0.06,
                 ink: int = INK, paper: int = PAPER) -> Image.Image:
    """A digit from ``STROKES`` drawn with a round pen, grey ``ink`` on grey ``paper``.

    ``box`` (left, top, right, bottom) places the digit, as fractions of the canvas; ``pen`` is the
    pen's width as a fraction of the canvas width.
    """
    w, h = size
    left, top, right, bottom = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    image = Image.new("L", size, paper)
    draw = ImageDraw.Draw(image)
    width = max(1, round(pen * w))
    for stroke in STROKES[digit]:
        points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in stroke]
        draw.line(points, fill=ink, width=width, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends, as a real pen leaves
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=ink)
    return image


def draw_rotated(digit: int, degrees: float) -> Image.Image:
    """A hand-drawn digit turned by ``degrees`` counter-clockwise, on a canvas grown to hold it."""
    return draw_strokes(digit).rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=PAPER)


def draw_shadowed(digit: int, size=(300, 300), shadow: int = 150) -> Image.Image:
    """A hand-drawn digit on paper whose left part lies in shadow (grey level ``shadow``): two tones of paper."""
    image = draw_strokes(digit, size=size)
    w, h = size
    shade = Image.new("L", size, 0)
    ImageDraw.Draw(shade).rectangle([0, 0, int(0.42 * w), h], fill=255)
    # Darken the paper and the ink alike under the shadow, as less light falls on both.
    darker = image.point(lambda value: round(value * shadow / PAPER))
    return Image.composite(darker, image, shade)


# --------------------------------------------------------------------------- all files
HARD = "hard"
"""The sub-folder of ``ASSETS`` holding the harder digits (not listed by ``mh.sample_digit_files()``)."""


def clean_digits() -> dict[str, tuple[Image.Image, int]]:
    """``{file name: (image, the digit it shows)}`` for the clean digits (``mh.sample_digit_files()``)."""
    return {
        "typed_3_dark_on_light.png": (draw_typed(3), 3),
        "typed_5_light_on_dark.png": (draw_typed(5, size=(400, 300), dark_on_light=False, font_size=200), 5),
        "drawn_7_colour.png": (draw_seven(), 7),
        "drawn_0_light_on_dark.png": (draw_zero(), 0),
    }


def hard_digits() -> dict[str, tuple[Image.Image, int]]:
    """``{file name: (image, the digit it shows)}`` for the harder digits (``sample_digits/hard/``)."""
    return {
        "flag_1_and_foot.png": (draw_strokes(1), 1),
        "thin_2_pen.png": (draw_strokes(2, pen=0.012), 2),
        "rotated_4_by_40_degrees.png": (draw_rotated(4, 40), 4),
        "shadow_6_two_tone_paper.png": (draw_shadowed(6), 6),
        "crossbar_7_through_the_stem.png": (draw_strokes(7), 7),
        "pencil_8_low_contrast.png": (draw_strokes(8, ink=150, paper=190, pen=0.03), 8),
        "small_9_off_centre.png": (draw_strokes(9, size=(600, 450), box=(0.8, 0.72, 0.86, 0.86), pen=0.008), 9),
    }


def _write(made: dict[str, tuple[Image.Image, int]], folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (image, _) in made.items():
        image.save(folder / name)
    return {name: digit for name, (_, digit) in made.items()}


def write_all(folder: Path = ASSETS) -> dict[str, int]:
    """Write the clean digits into ``folder``; return {file name: the digit it shows}."""
    return _write(clean_digits(), folder)


def write_hard(folder: Path = ASSETS / HARD) -> dict[str, int]:
    """Write the harder digits into ``folder``; return {file name: the digit it shows}."""
    return _write(hard_digits(), folder)


if __name__ == "__main__":
    for folder, written in ((ASSETS, write_all()), (ASSETS / HARD, write_hard())):
        for name, digit in written.items():
            print(f"{folder / name}: {digit}")
