"""``python -m mnist_helpers.kaggle``: see :mod:`mnist_helpers.kaggle.cli`."""
from .cli import main

raise SystemExit(main())
