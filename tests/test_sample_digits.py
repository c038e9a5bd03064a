"""The harder sample digits (``mnist_helpers/sample_digits/hard/``) that chapter 10 shows: made by
``tools/make_sample_digits.py``, shipped as package data, each readable as one digit.

The clean ones, listed by ``mh.sample_digit_files()``, are checked in ``test_predict.py``.
"""
import tomllib
from pathlib import Path

import numpy as np
import pytest
from digit_images import make_sample_digits
from PIL import Image

import mnist_helpers as mh
from mnist_helpers import predict

ROOT = Path(__file__).resolve().parents[1]
HARD = make_sample_digits.ASSETS / make_sample_digits.HARD


def test_committed_hard_digits_are_the_scripts(tmp_path):
    expected = make_sample_digits.write_hard(tmp_path)
    assert sorted(path.name for path in HARD.glob("*.png")) == sorted(expected)
    for name in expected:
        committed = np.asarray(Image.open(HARD / name))
        assert np.array_equal(committed, np.asarray(Image.open(tmp_path / name))), name


def test_each_name_says_its_digit():
    made = make_sample_digits.hard_digits()
    assert {name: int(name.split("_")[1]) for name in made} == {name: digit for name, (_, digit) in made.items()}


def test_hard_digits_are_package_data_but_not_listed_as_samples():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["mnist_helpers"]
    files = sorted(HARD.glob("*.png"))
    package = ROOT / "mnist_helpers"
    assert files and all(any(path.relative_to(package).match(pattern) for pattern in patterns) for path in files)
    assert not set(files) & set(mh.sample_digit_files())  # the clean samples stay the four listed ones


@pytest.mark.parametrize("name", sorted(make_sample_digits.hard_digits()))
def test_each_hard_digit_is_read_as_one_mnist_like_digit(name):
    image = predict.load_image(HARD / name)  # raises ImageInputError if refused
    assert image.shape == (28, 28) and image.dtype == np.uint8
    assert mh.bounding_boxes(image[None]).max() == 20, name
