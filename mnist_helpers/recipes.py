"""The book's two CNN recipes as plain numbers: one home, importable without Keras.

``mnist_helpers.cnn`` builds and trains the networks from these numbers; the command lines'
``--help`` texts (``python -m mnist_helpers.kaggle --help``) format them from here, so they can
answer without starting TensorFlow and cannot drift from what is trained.
"""
from __future__ import annotations

# The final recipe, chosen on the validation split by benchmarks/cnn_search.py (chapter 9 shows the
# evidence and checks that this recipe is one of the search's candidates).
FINAL_FILTERS = (16, 32, 64)
FINAL_EPOCHS = 20
FINAL_BATCH_SIZE = 128
FINAL_MAX_LR = 3e-3

# The speed run: the fastest recipe found to reach 99% (chosen the same way).
SPEED_FILTERS = (16, 32)
SPEED_EPOCHS = 3
SPEED_BATCH_SIZE = 128
SPEED_MAX_LR = 1e-2
