"""The package's one set of argument validators (mnist_helpers.checks), on their own."""
import fractions

import numpy as np
import pytest

from mnist_helpers import checks as C

# ------------------------------------------------------------------ check_real

@pytest.mark.parametrize("value", [0.5, 1, np.float32(0.5), np.float64(0.5), np.int64(1), np.int8(1),
                                   fractions.Fraction(1, 2)])
def test_check_real_accepts_python_and_numpy_numbers_and_returns_a_float(value):
    result = C.check_real(value, "lr", low=0, low_open=True)
    assert type(result) is float and result == float(value)


@pytest.mark.parametrize("value", [True, np.bool_(True), "0.1", None, [0.1], np.array([0.1]), np.array(0.1),
                                   1 + 2j])
def test_check_real_refuses_what_is_not_a_real_number(value):
    with pytest.raises(TypeError, match=r"^lr must be a real number, got "):
        C.check_real(value, "lr")


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (np.inf, "inf"), (-np.inf, "-inf"),
                                          (np.float32("nan"), "nan")])
def test_check_real_refuses_nan_and_infinity_even_without_bounds(value, shown):
    with pytest.raises(ValueError, match=rf"^x={shown} must be a finite number$"):
        C.check_real(value, "x")


@pytest.mark.parametrize("kwargs, inside, outside, interval", [
    (dict(low=0, high=1), [0, 1, 0.5], [-1e-9, 1.000001], r"\[0, 1\]"),
    (dict(low=0, high=1, low_open=True), [1e-12, 1], [0, -1], r"\(0, 1\]"),
    (dict(low=0, high=1, high_open=True), [0, 0.999], [1, 2], r"\[0, 1\)"),
    (dict(low=0, low_open=True), [1e-300, 1e300], [0, -5], r"\(0, inf\)"),
    (dict(high=0.5, high_open=True), [-1e9, 0.4], [0.5], r"\(-inf, 0.5\)"),
])
def test_check_real_bounds_open_and_closed(kwargs, inside, outside, interval):
    for value in inside:
        assert C.check_real(value, "x", **kwargs) == value
    for value in outside:
        with pytest.raises(ValueError, match=rf"^x={float(value)!r} must be in {interval}$"):
            C.check_real(value, "x", **kwargs)


def test_check_real_message_is_one_line_with_the_hint():
    with pytest.raises(ValueError) as info:
        C.check_real(1.0, "rate", low=0, high=1, high_open=True, hint=" (the probability that an input is dropped)")
    assert str(info.value) == "rate=1.0 must be in [0, 1) (the probability that an input is dropped)"
    assert "\n" not in str(info.value)


def test_check_real_type_error_shortens_a_long_value():
    with pytest.raises(TypeError) as info:
        C.check_real("x" * 500, "lr")
    assert len(str(info.value)) < 100


# ------------------------------------------------------------------ check_integer and check_integers

@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_check_integer_accepts_numpy_integers_and_returns_an_int(value):
    result = C.check_integer(value, "k", low=1, high=3)
    assert type(result) is int and result == 3


@pytest.mark.parametrize("value", [3.0, np.float64(3.0), True, np.bool_(False), "3", None, np.array(3)])
def test_check_integer_refuses_floats_bools_strings(value):
    with pytest.raises(TypeError, match=r"^k must be an integer, got "):
        C.check_integer(value, "k")


def test_check_integer_bounds_are_closed():
    assert C.check_integer(1, "k", low=1, high=9) == 1 and C.check_integer(9, "k", low=1, high=9) == 9
    with pytest.raises(ValueError, match=r"^k=0 must be in \[1, 9\] \(neighbours\)$"):
        C.check_integer(0, "k", low=1, high=9, hint=" (neighbours)")
    with pytest.raises(ValueError, match=r"^k=10 must be in \[1, 9\]$"):
        C.check_integer(np.int64(10), "k", low=1, high=9)
    with pytest.raises(ValueError, match=r"^n=-1 must be in \[0, inf\)$"):
        C.check_integer(-1, "n", low=0)


def test_check_integers_checks_every_element_and_the_length():
    assert C.check_integers([np.int64(8), 16], "filters", low=1) == (8, 16)
    assert C.check_integers(np.array([2, 3]), "shape", low=0) == (2, 3)
    assert C.check_integers((), "dense_units", low=1) == ()
    with pytest.raises(ValueError, match=r"^filters\[1\]=0 must be in \[1, inf\)$"):
        C.check_integers((8, 0), "filters", low=1)
    with pytest.raises(TypeError, match=r"^filters\[0\] must be an integer, got float 1.5$"):
        C.check_integers((1.5,), "filters", low=1)
    with pytest.raises(ValueError, match=r"^filters=\(8, 16\) must hold exactly 3 integer\(s\), got 2$"):
        C.check_integers((8, 16), "filters", low=1, length=3)
    with pytest.raises(ValueError, match=r"^ks=\(\) must hold at least 1 integer\(s\), got 0$"):
        C.check_integers((), "ks", min_length=1)
    for not_a_sequence in ("32", 32, None):
        with pytest.raises(TypeError, match="must be a sequence of integers"):
            C.check_integers(not_a_sequence, "filters")


# ------------------------------------------------------------------ check_choice and check_text

def test_check_choice():
    assert C.check_choice("same", "padding", ("valid", "same")) == "same"
    assert C.check_choice(np.str_("valid"), "padding", ("valid", "same")) == "valid"
    with pytest.raises(ValueError, match=r"^padding='full' must be one of 'valid', 'same'$"):
        C.check_choice("full", "padding", ("valid", "same"))
    with pytest.raises(ValueError, match=r"^gamma='auto' must be one of 'scale' or a positive number$"):
        C.check_choice("auto", "gamma", ("scale",), hint=" or a positive number")
    with pytest.raises(ValueError, match="must be one of 1, 2"):
        C.check_choice(True, "x", (1, 2))  # True == 1, but a bool is not the integer choice
    with pytest.raises(ValueError, match="must be one of"):
        C.check_choice(np.array([1, 2]), "x", (1, 2))  # no "truth value is ambiguous"


def test_check_text():
    assert C.check_text("  accuracy ", "metric") == "accuracy"
    for bad in ("", "   ", None, 3):
        with pytest.raises(TypeError, match="metric must be a non-empty string"):
            C.check_text(bad, "metric")


# ------------------------------------------------------------------ arrays

def test_check_float_array_returns_the_same_object():
    x = np.ones((2, 3), np.float32)
    assert C.check_float_array(x, "x") is x
    assert C.check_float_array(np.zeros(()), "x", ndim=0).shape == ()


@pytest.mark.parametrize("bad, error, message", [
    ([1.0, 2.0], TypeError, r"^x must be a NumPy array, got list; convert it explicitly with np.asarray$"),
    (3.0, TypeError, r"^x must be a NumPy array, got float"),
    (np.zeros(3, np.uint8), TypeError,
     r"^x must have a floating dtype \(float32 or float64\), got uint8; scale uint8 pixels with mh.scale"),
    (np.zeros(3, np.int64), TypeError, r"got int64"),
    (np.zeros(3, np.float16), TypeError, r"\(float32 or float64\), got float16"),
    (np.zeros(3, bool), TypeError, r"got bool"),
])
def test_check_float_array_refuses_lists_and_non_float_dtypes(bad, error, message):
    with pytest.raises(error, match=message):
        C.check_float_array(bad, "x")


def test_check_float_array_rank_options_and_hints():
    x = np.zeros((8, 8, 1), np.float32)
    with pytest.raises(ValueError, match=r"^x must have 4 dimensions, got shape \(8, 8, 1\)$"):
        C.check_float_array(x, "x", ndim=4)
    with pytest.raises(ValueError, match=r"^bias must have 1 dimension, got shape \(8, 8, 1\)$"):
        C.check_float_array(x, "bias", ndim=1)
    with pytest.raises(ValueError,
                       match=r"^x must have shape \(n, h, w, c\) \(4 dimensions\), got shape \(8, 8, 1\); add x\[..., None\]$"):
        C.check_float_array(x, "x", ndim=4, layout="(n, h, w, c)", shape_hint="; add x[..., None]")
    with pytest.raises(ValueError, match=r"^z must have at least 1 dimension\(s\), got shape \(\)$"):
        C.check_float_array(np.array(1.0), "z", min_ndim=1)
    assert C.check_float_array(x, "x", min_ndim=3) is x


def test_check_float_array_custom_dtype_hint():
    with pytest.raises(TypeError) as info:
        C.check_float_array(np.zeros((1, 8, 8, 1), np.uint8), "x", dtype_hint="; scale uint8 images first")
    assert str(info.value) == "x must have a floating dtype (float32 or float64), got uint8; scale uint8 images first"


def test_check_float_array_rows_columns_and_finite():
    with pytest.raises(ValueError, match=r"^x must have at least 2 row\(s\), got shape \(1, 3\)$"):
        C.check_float_array(np.zeros((1, 3)), "x", min_rows=2)
    with pytest.raises(ValueError, match=r"at least 1 row\(s\) and 1 column\(s\), got shape \(3, 0\)"):
        C.check_float_array(np.zeros((3, 0)), "x", min_rows=1, min_cols=1)
    bad = np.zeros((2, 3))
    bad[1, 2] = np.nan
    assert C.check_float_array(bad, "x") is bad  # NaNs are only looked for when asked
    with pytest.raises(ValueError, match=r"^x contains NaN or infinite values \(the first at index \(1, 2\)\)"):
        C.check_float_array(bad, "x", finite=True)
    with pytest.raises(ValueError, match="infinite"):
        C.check_float_array(np.array([np.inf]), "x", finite=True)


def test_check_array_fixed_axes_and_other_dtypes():
    images = np.zeros((3, 28, 28), np.uint8)
    assert C.check_array(images, "x", dtypes=(np.uint8,), shape=(None, 28, 28)) is images
    with pytest.raises(ValueError, match=r"^x must have shape \(n, 28, 28\), got shape \(3, 28, 27\)$"):
        C.check_array(images[:, :, :27], "x", shape=(None, 28, 28))
    with pytest.raises(ValueError, match=r"^x must have shape \(n, 28, 28\) \(3 dimensions\), got shape \(3, 784\)"):
        C.check_array(images.reshape(3, -1), "x", shape=(None, 28, 28))
    with pytest.raises(TypeError, match=r"^x must have uint8, got float32$"):
        C.check_array(images.astype(np.float32), "x", dtypes=(np.uint8,))
    y = np.zeros(2, np.int16)
    assert C.check_array(y, "y", dtypes=(np.integer,)) is y  # accepted as it is, not copied or cast


def test_check_same_dtype():
    C.check_same_dtype(a=np.zeros(2, np.float32), b=np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"^dtypes differ \(w is float32, g is float64\); cast explicitly"):
        C.check_same_dtype(w=np.zeros(2, np.float32), g=np.zeros(2))


# ------------------------------------------------------------------ labels

def test_check_labels_accepts_any_integer_dtype():
    for dtype in (np.uint8, np.int32, np.int64):
        labels = np.array([0, 9, 3], dtype)
        assert C.check_labels(labels) is labels
    labels = np.array([0, 11])
    assert C.check_labels(labels, num_classes=np.int64(12)) is labels
    assert C.check_labels(np.zeros(0, int), n=0).shape == (0,)


@pytest.mark.parametrize("bad, kwargs, error, message", [
    ([0, 1], {}, TypeError, r"^labels must be a NumPy array, got list"),
    (np.array([0.0, 1.0]), {}, TypeError,
     r"^labels must have an integer dtype \(class indices\), got float64; convert with .astype\(int\)"),
    (np.array([[0, 1]]), {}, ValueError,
     r"^labels must have shape \(n,\) \(1 dimension\), got shape \(1, 2\); .*\.argmax\(axis=1\)$"),
    (np.array([0, 10]), {}, ValueError, r"^labels must be class indices in \[0, 10\), got values 0..10$"),
    (np.array([-1, 2]), {}, ValueError, r"got values -1..2"),
    (np.array([0, 3]), {"num_classes": 3}, ValueError, r"in \[0, 3\)"),
    (np.zeros(4, int), {"n": 3}, ValueError, r"^labels must have shape \(3,\), one label per example, got shape \(4,\)$"),
    (np.array([0, 1]), {"num_classes": 0}, ValueError, r"^num_classes=0 must be in \[1, inf\)$"),
    (np.array([0, 1]), {"num_classes": 2.0}, TypeError, r"^num_classes must be an integer, got float 2.0$"),
])
def test_check_labels_refuses(bad, kwargs, error, message):
    with pytest.raises(error, match=message):
        C.check_labels(bad, **kwargs)
