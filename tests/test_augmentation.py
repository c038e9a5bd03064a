"""The one-warp augmentation against Keras' three layers (the matrices) and against SciPy (the warp)."""
import numpy as np
import pytest

from mnist_helpers import augmentation, cnn
from mnist_helpers._keras import keras

layers = keras.layers
N = 6


def three_keras_matrices(images, seed=3):
    """Each Keras layer's own random transform of ``images`` (its output-to-input matrix), as NumPy (n, 3, 3)."""
    rotate = layers.RandomRotation(10 / 360, seed=seed)
    shift = layers.RandomTranslation(0.1, 0.1, seed=seed + 1)
    zoom = layers.RandomZoom(0.1, 0.1, seed=seed + 2)
    rotation = rotate.get_random_transformation(images, training=True)
    translation = shift.get_random_transformation(images, training=True)
    zooms = zoom.get_random_transformation(images, training=True)
    zoom_xy = keras.ops.concatenate([zooms["width_zoom"], zooms["height_zoom"]], axis=1)
    flat = [rotation["rotation_matrix"], shift._get_translation_matrix(translation["translations"]),
            zoom._get_zoom_matrix(zoom_xy, 28, 28)]

    def square(m):
        m = np.asarray(m, dtype=np.float64)
        return np.concatenate([m[:, :6].reshape(-1, 2, 3), np.tile([[[0, 0, 1]]], (len(m), 1, 1))], axis=1)
    params = (np.asarray(rotation["angle"]), *np.asarray(translation["translations"]).T, *np.asarray(zoom_xy).T)
    return [square(m) for m in flat], params


def test_composed_matrix_maps_points_as_the_three_layers_in_sequence():
    images = np.zeros((N, 28, 28, 1), dtype="float32")
    (rotation, translation, zoom), (angle, dx, dy, zx, zy) = three_keras_matrices(images)
    assert np.ptp(angle) > 1 and np.ptp(zx) > 0.01  # random draws, not the identity
    composed = augmentation.affine_matrix(angle, dx, dy, zx, zy)
    points = np.stack([np.array([0, 27, 13.5, 5]), np.array([0, 27, 13.5, 20]), np.ones(4)])
    # A point of the final output is read from zoom's input, which is shift's output, and so on.
    in_sequence = rotation @ (translation @ (zoom @ points))
    gap = np.abs(composed @ points - in_sequence).max()
    print(f"largest gap between the composed matrix and the three in sequence: {gap:.1e} pixels")
    assert gap < 1e-4  # Keras computes its matrices in float32


def test_layer_matrix_equals_numpy_reference_and_warp_equals_scipy():
    layer = augmentation.DigitAffineAugmentation(seed=5)
    params = [np.asarray(p, dtype=np.float64) for p in layer.random_parameters(N)]
    flat = np.asarray(layer.transform(*[keras.ops.convert_to_tensor(p, "float32") for p in params], 28, 28))
    angle, shift_x, shift_y, zoom_x, zoom_y = params
    assert np.abs(angle).max() <= 10 and np.abs(shift_x).max() <= 0.1 and np.abs(zoom_y - 1).max() <= 0.1
    reference = augmentation.affine_matrix(angle, 28 * shift_x, 28 * shift_y, zoom_x, zoom_y)
    assert np.abs(flat[:, :6].reshape(-1, 2, 3) - reference[:, :2]).max() < 1e-4
    rng = np.random.default_rng(0)
    images = rng.random((N, 28, 28)).astype("float32")
    warped = np.asarray(keras.ops.image.affine_transform(images[..., None], flat, fill_mode="constant"))[..., 0]
    gap = np.abs(warped - augmentation.warp(images, reference)).max()
    print(f"largest pixel gap, Keras' warp vs SciPy's (pixels in [0, 1]): {gap:.1e}")
    assert gap < 1e-3  # bilinear in float32 against float64


def test_layer_is_identity_outside_training_and_changes_images_in_training():
    layer = augmentation.DigitAffineAugmentation(seed=1)
    images = np.random.default_rng(1).random((4, 28, 28, 1)).astype("float32")
    assert np.array_equal(np.asarray(layer(images, training=False)), images)
    moved = np.asarray(layer(images, training=True))
    assert moved.shape == images.shape and np.abs(moved - images).mean() > 0.05


def test_final_cnn_with_affine_augmentation_saves_and_loads(tmp_path):
    model = cnn.build_final_cnn(filters=(4, 4, 4), dense_units=8, affine_augmentation=True, seed=2)
    assert isinstance(model.get_layer("augmentation"), augmentation.DigitAffineAugmentation)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("augmentation")
    assert (layer.rotation_degrees, layer.shift, layer.zoom, layer.seed) == (10.0, 0.1, 0.1, 2)
    x = np.random.default_rng(2).integers(0, 256, (3, 28, 28)).astype("uint8")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"rotation_degrees": 90}, "rotation_degrees"), ({"shift": -0.1}, "shift"), ({"zoom": 0.5}, "zoom"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_ranges_are_refused(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):  # checks.py: TypeError for a non-integer
        augmentation.DigitAffineAugmentation(**kwargs)
