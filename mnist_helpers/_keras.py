"""Keras for the package's own modules: ``from ._keras import keras``.

It goes through :func:`config.quiet_tensorflow_import`, so whichever module loads TensorFlow
first (``mh.cnn``, ``mh.fit``, ...), its native start-up notices are filtered the same way.
"""
from .config import quiet_tensorflow_import

keras = quiet_tensorflow_import()
