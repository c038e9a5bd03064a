"""Make the sample digit images that chapter 10 and the predict tests use (package data, committed
under mnist_helpers/sample_digits; ``mh.sample_digit_files()`` lists them).

Run ``python tests/digit_images.py`` to write them again; ``test_predict.py`` checks that the
committed files are exactly what this script draws, so they stay test-made.
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ASSETS = Path(__file__).resolve().parent.parent / "mnist_helpers" / "sample_digits"


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


def write_all(folder: Path = ASSETS) -> dict[str, int]:
    """Write every image into ``folder``; return {file name: the digit it shows}."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "typed_3_dark_on_light.png": (draw_typed(3), 3),
        "typed_5_light_on_dark.png": (draw_typed(5, size=(400, 300), dark_on_light=False, font_size=200), 5),
        "drawn_7_colour.png": (draw_seven(), 7),
        "drawn_0_light_on_dark.png": (draw_zero(), 0),
    }
    for name, (image, _) in made.items():
        image.save(folder / name)
    return {name: digit for name, (_, digit) in made.items()}


if __name__ == "__main__":
    for name, digit in write_all().items():
        print(f"{ASSETS / name}: {digit}")
