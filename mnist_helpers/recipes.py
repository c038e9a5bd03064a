"""The book's two CNN recipes as plain numbers: one home, importable without Keras.

``mnist_helpers.cnn`` builds and trains the networks from these numbers; the command lines'
``--help`` texts (``python -m mnist_helpers.kaggle --help``) format them from here, so they can
answer without starting TensorFlow and cannot drift from what is trained.
"""
from __future__ import annotations

# The final recipe, chosen on the validation split by benchmarks/cnn_search.py's selection rule
# (mnist_helpers.stats.select_fastest; chapter 9b shows the evidence and asserts that the rule's choice
# is this recipe): candidate "narrow_8ep_affine_b256" of the round of 2026-12-04, which tied with the
# most accurate candidate (the 10-epoch "narrow_10ep_affine_b256" of 2026-12-03) in less time.
FINAL_FILTERS = (16, 32, 64)
FINAL_EPOCHS = 8
FINAL_BATCH_SIZE = 256
FINAL_MAX_LR = 4e-3
# One affine warp per image (cnn.DigitAffineAugmentation) rather than Keras' three random layers.
FINAL_AFFINE_AUGMENTATION = True

# The speed run: of the candidates whose every seed keeps 99% on validation to the end, the one
# with the smallest mean sustained time (candidate "speed_3ep_b128").
SPEED_FILTERS = (24, 48)
SPEED_EPOCHS = 3
SPEED_BATCH_SIZE = 128
SPEED_MAX_LR = 1e-2
