"""The command lines' --help texts quote the book's numbers from the constants, never typed.

Each number in ``python -m mnist_helpers.kaggle --help`` and ``... predict --help`` must be one of
the constants it describes (the recipe's epochs, Kaggle's file sizes, the fast mode's size) or on
a short list of numbers that are not settings (exit codes, "seeds 0..N-1"). The help is also
rebuilt with a patched constant, to show that the text follows it.
"""
import re
import subprocess
import sys

import pytest

from mnist_helpers import kaggle, recipes

NUMBER = re.compile(r"(?<![\w.-])\d[\d,]*(?:\.\d+)?%?")
# Not settings: exit codes 0, 1, 2; "seeds 0..N-1"; MNIST's 70,000 images.
NOT_SETTINGS = {"0", "1", "2", "70,000"}


def help_text(module: str) -> str:
    result = subprocess.run([sys.executable, "-m", f"mnist_helpers.{module}", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def allowed_numbers() -> set[str]:
    constants = [recipes.FINAL_EPOCHS, kaggle.FAST_EPOCHS, kaggle.SPLIT_SEED]
    sizes = [kaggle.TEST_ROWS, kaggle.TRAIN_ROWS, kaggle.FAST_IMAGES, round(kaggle.VAL_FRACTION * kaggle.TRAIN_ROWS)]
    return ({str(c) for c in constants} | {f"{s:,}" for s in sizes} | {f"{kaggle.VAL_FRACTION:.0%}"}
            | NOT_SETTINGS)


@pytest.mark.parametrize("module", ["kaggle", "predict"])
def test_every_number_in_the_help_is_a_constant(module):
    text = help_text(module)
    stray = sorted(set(NUMBER.findall(text)) - allowed_numbers())
    assert not stray, f"{module} --help quotes numbers that no constant holds: {stray}"


def test_the_kaggle_help_gives_the_recipes_epochs():
    text = " ".join(help_text("kaggle").split())
    assert f"default: the book's {recipes.FINAL_EPOCHS}; {kaggle.FAST_EPOCHS} with --fast" in text
    assert f"trains for {recipes.FINAL_EPOCHS} epochs" in text


def test_the_help_follows_the_constant(monkeypatch):
    monkeypatch.setattr(kaggle.cli, "FINAL_EPOCHS", 47)
    text = " ".join(kaggle.cli._parser().format_help().split())
    assert "the book's 47;" in text and "trains for 47 epochs" in text


def test_the_cnn_module_trains_the_recipes_numbers():
    from mnist_helpers import cnn

    assert (cnn.FINAL_EPOCHS, cnn.FINAL_FILTERS, cnn.FINAL_BATCH_SIZE, cnn.FINAL_MAX_LR) == (
        recipes.FINAL_EPOCHS, recipes.FINAL_FILTERS, recipes.FINAL_BATCH_SIZE, recipes.FINAL_MAX_LR)
    assert (cnn.SPEED_EPOCHS, cnn.SPEED_FILTERS) == (recipes.SPEED_EPOCHS, recipes.SPEED_FILTERS)


def test_the_recipes_import_no_keras():
    code = "import sys, mnist_helpers.recipes, mnist_helpers.kaggle; print('keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
