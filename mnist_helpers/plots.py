"""Figures the book draws more than once: digit grids, class balance, mean images, histograms."""
from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator


def plot_digits(x: np.ndarray, labels: Optional[Sequence] = None, n_cols: int = 10,
                titles: Optional[Sequence[str]] = None, cmap: str = "gray_r", size: float = 1.0):
    """Show images in a grid, each titled with its label (or a given title).

    Parameters
    ----------
    x : ndarray of shape (n, 28, 28)
        Images; any dtype that ``imshow`` understands.
    labels : sequence of length n, optional
        Shown as titles when ``titles`` is not given.
    n_cols : int, default 10
    titles : sequence of str of length n, optional
    cmap : str, default "gray_r" (dark ink on white, like paper)
    size : float, default 1.0
        Inches per image.

    Returns
    -------
    matplotlib Figure
    """
    n = len(x)
    if n == 0:
        raise ValueError("plot_digits needs at least one image")
    if titles is None and labels is not None:
        titles = [str(label) for label in labels]
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles/labels")
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(x[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=9)
    fig.tight_layout()
    return fig


def plot_class_balance(y_train: np.ndarray, y_test: np.ndarray):
    """Bar chart of how many images each digit has, training and test side by side."""
    frame = pd.concat([
        pd.DataFrame({"digit": y_train, "split": "train"}),
        pd.DataFrame({"digit": y_test, "split": "test"}),
    ])
    counts = frame.value_counts(["split", "digit"]).rename("images").reset_index()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.barplot(data=counts, x="digit", y="images", hue="split", hue_order=["train", "test"], ax=ax)
    ax.set_title("Images per digit")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), frameon=False)
    fig.tight_layout()
    return fig


def plot_mean_images(x: np.ndarray, y: np.ndarray, cmap: str = "magma"):
    """The average image of each digit 0..9 (pixel-wise mean over its examples)."""
    means = np.stack([x[y == d].mean(axis=0) for d in range(10)])
    return plot_digits(means, titles=[f"mean {d}" for d in range(10)], cmap=cmap, size=1.2)


def plot_pixel_histogram(x: np.ndarray):
    """Histogram of pixel intensities, with the log scale the zeros call for."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(x.ravel(), bins=64, range=(0, 256), color="C0")
    ax.set_yscale("log")
    ax.set_xlabel("pixel intensity (0 = background, 255 = ink)")
    ax.set_ylabel("pixels (log scale)")
    ax.set_title("Pixel intensities over all training images")
    fig.tight_layout()
    return fig


def plot_history(histories: dict, metrics: Sequence[str] = ("loss", "accuracy"), title: str = ""):
    """Training (dashed) and validation (solid) curves of one or more runs, one panel per metric.

    Parameters
    ----------
    histories : dict of name -> DataFrame
        As returned by ``mh.training.fit`` (columns ``loss``, ``val_loss``, ...; index = epoch).
    metrics : sequence of str
        Which metrics to draw, one panel each.
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        for i, (name, frame) in enumerate(histories.items()):
            color = f"C{i}"
            if metric in frame:
                ax.plot(frame.index, frame[metric], "--", color=color, alpha=0.7, label=f"{name} (train)")
            if f"val_{metric}" in frame:
                ax.plot(frame.index, frame[f"val_{metric}"], "-", color=color, label=f"{name} (validation)")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
    axes.flat[-1].legend(loc="center left", bbox_to_anchor=(1, 0.5), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
