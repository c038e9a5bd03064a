"""DRAFT (2026-12-03 session): split chapter 9 into 09 "The full CNN" (building it, checked in NumPy)
and 09b "Choosing and measuring the CNN" (the recipe chosen on validation with mh.stats.select_fastest,
ablations with 3 seeds per arm, the final 5 seeds, ensemble, speed run). Reads the committed
notebooks/09_final_cnn.ipynb, writes drafts/09_final_cnn.ipynb and drafts/09b_choosing_the_cnn.ipynb
(no outputs: both need `make execute`). Not part of the book; delete once the split lands.

    python3 drafts/build_ch9_split.py
"""
import json
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = json.loads((ROOT / "notebooks" / "09_final_cnn.ipynb").read_text())
OLD_CELLS = OLD["cells"]


def src(i):
    return "".join(OLD_CELLS[i]["source"])


def cell(kind, text, tags=(), hidden=False):
    c = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {}, "source": text.strip("\n").splitlines(keepends=True)}
    if tags:
        c["metadata"]["tags"] = list(tags)
    if hidden:
        c["metadata"]["jupyter"] = {"source_hidden": True}
    if kind == "code":
        c.update(execution_count=None, outputs=[])
    return c


def md(text):
    return cell("markdown", text)


def code(text, tags=(), hidden=False):
    return cell("code", text, tags, hidden)


def old(i):
    c = json.loads(json.dumps(OLD_CELLS[i]))
    if c["cell_type"] == "code":
        c.update(execution_count=None, outputs=[])
    return c


GLUE_TAGS = ("nbval-ignore-output", "remove-input")
RUN_TIMES = code('''for key, text in mh.run_times().items():  # the "time to run" line at the top of this page
    mh.glue(key, text, display=False)''', GLUE_TAGS, hidden=True)

# ---------------------------------------------------------------------------------------------- 09
ch9 = [
    md('''# 9. The full CNN

**What you will learn:** the parts of a convolutional network that makes only a few dozen errors on
the 10,000 test images, each written in NumPy and checked against Keras where it computes something
new: stacked small convolutions, batch normalization (at inference and in a training step), dropout,
digit-safe augmentation, and a warm-up + cosine learning-rate schedule. Chapter 9b chooses the recipe
on a validation split, measures what each part buys and trains the final models.

**Time to run** on a 2-core CPU: <!-- glue time_full -->?<!-- /glue --> on the full data, <!-- glue time_fast -->?<!-- /glue --> in the fast mode (`MNIST_FAST=1`).

Every choice is made on a validation split of 5,000 images held out from the 60,000 training images.
The test set is used once per trained model, after all choices, and never to choose.'''),
    old(2),
    code('''import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import mnist_helpers as mh
from mnist_helpers import augmentation, cnn

mh.setup_book()
import keras  # after setup_book(), which starts TensorFlow quietly and with oneDNN's fast kernels'''),
    old(4),
    code('''(x_train_all, y_train_all), (x_test, y_test) = mh.load_mnist()
(x_train, y_train), (x_val, y_val) = mh.train_val_split(x_train_all, y_train_all, val_size=5000, seed=0)
x_train, y_train = mh.subsample(x_train, y_train, mh.pick(full=len(x_train), fast=6000))
print(f"train {x_train.shape}, validation {x_val.shape}, test {x_test.shape}")''', ("nbval-ignore-output",)),
    code('''assert x_val.shape == (5000, 28, 28) and x_test.shape == (10000, 28, 28)
assert len(x_train) == mh.pick(full=55000, fast=6000)''', ("remove-cell",), hidden=True),
    old(7), old(8), old(9), old(10), old(11), old(12), old(13), old(14),
    md('''One measurement makes that concrete: how the model trained without flips reads flipped test digits.'''),
    code('''flipped_acc = original.evaluate(np.ascontiguousarray(x_test[:, :, ::-1]), y_test, verbose=0)[1]
print(f"the original model on flipped test digits: accuracy {flipped_acc:.4f} (on the digits as written: "
      f"{original_test_acc:.4f})")''', ("nbval-ignore-output",)),
    code('''assert flipped_acc < original_test_acc - mh.pick(full=0.3, fast=0.1)  # flipped digits are mostly not digits
mh.glue("flipped_acc", float(flipped_acc), display=False)''', ("remove-cell",), hidden=True),
    md('''A model that never saw flipped digits reads only <!-- glue flipped_acc:.1% -->?<!-- /glue --> of flipped test digits
correctly: they are different shapes. Training with flips would ask the network to give the same answer
for a digit and its mirror image, which spends capacity on shapes that never occur in the test set.
Whether that costs accuracy on real digits is a small effect that one run cannot resolve (an earlier
version of this chapter compared one run of each on the test set, a difference of about one seed's
spread); the demonstration above is the reason the final network does without flips. It keeps the idea
of augmentation but uses only changes that real handwriting shows: small rotations, shifts and changes
of size.

## 2. The full CNN, part by part

### Stacked small convolutions

Two 3 x 3 convolutions in a row see a 5 x 5 window, like one 5 x 5 convolution, with
$2 \\cdot 9 c^2 = 18c^2$ weights instead of $25c^2$ for $c$ channels in and out, and with a
non-linearity in between. The final network starts with one 5 x 5 convolution on the 28 x 28
image (cheap, since there is one input channel), then stacks 3 x 3 convolutions.

### Batch normalization

A `BatchNormalization` layer standardizes each channel with the mean $\\mu$ and variance
$\\sigma^2$ of the current batch during training (and with moving averages of them at inference),
then lets the network re-scale and shift it with learned $\\gamma$ and $\\beta$:

$$\\hat{x} = \\frac{x - \\mu}{\\sqrt{\\sigma^2 + \\epsilon}}, \\qquad y = \\gamma \\hat{x} + \\beta.$$

Because the layer subtracts each channel's mean, a bias added just before it would be cancelled, and
$\\beta$ does its job: the convolutions and the dense layer that feed a batch norm are built with
`use_bias=False`. In practice batch normalization lets a network train at larger learning rates and
in fewer epochs. *Why* is less settled than the usual story. It was introduced to reduce "internal
covariate shift", the drift of each layer's input distribution during training (Ioffe and Szegedy,
2015, [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)); Santurkar et al. (2018, "How Does Batch
Normalization Help Optimization?", [arXiv:1805.11604](https://arxiv.org/abs/1805.11604)) found that
networks train as well with that drift added back on purpose, and traced the benefit to a smoother
loss surface, whose gradients change less from step to step. Read "a stable scale for each layer" as
an intuition, not as the mechanism. At inference the layer is the few lines of `cnn.batch_norm`:'''),
    old(19), old(20), old(21),
    md('''In training, the layer uses the batch's own mean and (biased) variance, and moves its running
statistics towards them with the momentum $m$:

$$\\mu_{\\text{moving}} \\leftarrow m\\,\\mu_{\\text{moving}} + (1 - m)\\,\\mu_B, \\qquad
\\sigma^2_{\\text{moving}} \\leftarrow m\\,\\sigma^2_{\\text{moving}} + (1 - m)\\,\\sigma^2_B .$$

The book uses $m = 0.9$, where Keras' default is 0.99. A batch's weight in the average halves every
$\\log 0.5 / \\log m$ steps: about 7 steps at 0.9, about 69 at 0.99. The moving statistics must describe
the network as it is at the end of training, and the weights keep changing until then; with 0.99 they
still remember the network of a few hundred steps earlier, which in a run of one to three epochs (the
speed run's) is a large part of the training. `cnn.batch_norm_train` does one training step in NumPy;
checked against one call of the Keras layer with `training=True`: the output, and the moving mean and
variance it leaves behind.'''),
    old(23),
    md('''### Dropout

Chapter 8 showed dropout narrowing the gap between training and validation accuracy, a little. Here a
rate of 0.2 follows the second convolution stage and 0.4 the dense layer.

### Augmentation that keeps digits digits

Each training image is rotated (up to 10 degrees either way), shifted (up to 10% of the size, 2.8
pixels, per axis) and zoomed (1 ± 10%, per axis) at random, anew in every epoch. Keras has a layer for
each (`RandomRotation`, `RandomTranslation`, `RandomZoom`: `cnn.build_augmentation`), and each
interpolates the image once. `augmentation.DigitAffineAugmentation` draws the same three transforms,
multiplies their matrices into one and interpolates once: the same distribution of images for about a
third of the work, and one blur instead of three. The package's tests check the composed matrix against
Keras' three (to $10^{-6}$ pixels) and the warp against SciPy's. Both are layers of the model, active in
`fit` and switched off in `predict`. The first column is the digit as written, then what the network
sees of it in nine epochs:'''),
    code('''digit = mh.scale(x_train[:1])[..., None]
three_layers, one_warp = cnn.build_augmentation(seed=1), augmentation.DigitAffineAugmentation(seed=1)
rows = [np.concatenate([digit] + [layer(digit, training=True) for _ in range(9)])[..., 0]
        for layer in (three_layers, one_warp)]
mh.plot_digits(np.concatenate(rows), titles=["original"] + [f"epoch {i}" for i in range(1, 10)]
               + ["original"] + [f"epoch {i}" for i in range(1, 10)])
plt.show()'''),
    md('''**How to read it:** the top row comes from Keras' three layers, the bottom row from the single warp;
each picture is one random draw, so the two rows show the same kind of variation, not the same images.
A digit stays recognisable in every view: the ranges are those of real handwriting, not those that would
turn a 6 into a 9.

### A learning-rate schedule

Adam with a constant learning rate either moves slowly (small rate) or ends up bouncing around the
minimum (large rate). The book's schedule takes the good side of each: it warms up linearly from a tenth
of the peak rate $\\eta$ over the first $W$ of the $T$ training steps ($W$ = 20% of $T$), then follows a
cosine down to zero:

$$\\eta_t = \\begin{cases} \\dfrac{\\eta}{10} + \\left(\\eta - \\dfrac{\\eta}{10}\\right)\\dfrac{t}{W} & t < W \\\\[1ex]
\\dfrac{\\eta}{2}\\left(1 + \\cos\\dfrac{\\pi (t - W)}{T - W}\\right) & t \\ge W \\end{cases}$$

where $t$ counts the updates made so far. (It is often called "one-cycle", but fast.ai's one-cycle
policy also cycles the momentum against the rate; this one leaves Adam's momentum alone, so we call it
what it is: warm-up + cosine decay.) `cnn.warmup_cosine_lr` is the formula in NumPy; checked against the
Keras schedule that training uses (`cnn.warmup_cosine_schedule`) at every step of a full run:'''),
    code('''BATCH_SIZE, EPOCHS = cnn.FINAL_BATCH_SIZE, cnn.FINAL_EPOCHS
steps = cnn.steps_per_epoch(60000, BATCH_SIZE)
every_step = np.arange(EPOCHS * steps)
ours = cnn.warmup_cosine_lr(every_step, epochs=EPOCHS, steps_per_epoch=steps, max_lr=cnn.FINAL_MAX_LR)
schedule = cnn.warmup_cosine_schedule(EPOCHS, steps, max_lr=cnn.FINAL_MAX_LR)
theirs = np.array([float(schedule(t)) for t in every_step])
gap = mh.assert_close(ours, theirs, atol=1e-9, rtol=1e-6, name="learning rate at every step")
print(f"{len(every_step):,} steps: NumPy == Keras within rtol=1e-6 (largest difference {gap:.0e})")

fig, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(every_step / steps, ours)
ax.set_xlabel("epoch")
ax.set_ylabel("learning rate")
ax.set_title("Warm-up + cosine decay")
plt.show()'''),
    md('''**How to read it:** the rate climbs for the first fifth of the run, peaks, and then falls slowly at
first and fastest half-way down; in the last epochs it is close to zero, so the weights stop moving and
settle where they are.

### The network'''),
    old(29),
    md('''## Summary

* The original network of the repository this book grew from trains in minutes; its horizontal flips
  are wrong for digits: a model reads only <!-- glue flipped_acc:.1% -->?<!-- /glue --> of flipped digits correctly.
* The final CNN stacks small convolutions with batch normalization, dropout, digit-safe augmentation
  and warm-up + cosine decay, each checked here in NumPy where it computes something new.
* Chapter 9b chooses its recipe on the validation split, measures what each part buys, and trains the
  final models.

## Exercises

:::{exercise}
:label: ch09-fold-bn

At inference a `BatchNormalization` layer after a convolution is an affine map per channel, so it
can be folded into the convolution's kernel and bias. Derive the folded weights and check them
against Keras, with a convolution that has a bias of its own.
:::

:::{solution-start} ch09-fold-bn
:class: dropdown
:::
With $s = \\gamma / \\sqrt{\\sigma^2_{\\text{moving}} + \\epsilon}$ per output channel, the folded kernel is
$W' = W s$ (scaling each output channel) and the bias $b' = (b - \\mu_{\\text{moving}}) s + \\beta$:'''),
    code('''rng = np.random.default_rng(1)
conv = keras.layers.Conv2D(8, 3)
norm = keras.layers.BatchNormalization()
small = keras.Sequential([keras.Input((12, 12, 3)), conv, norm])
norm.set_weights([rng.normal(size=8), rng.normal(size=8), rng.normal(size=8), rng.uniform(0.5, 2, size=8)])
kernel, _ = conv.get_weights()
bias = rng.normal(size=8).astype("float32")  # Keras starts biases at 0: a random one tests the b term
conv.set_weights([kernel, bias])
gamma, beta, mean, var = norm.get_weights()
scale = gamma / np.sqrt(var + norm.epsilon)
folded = keras.layers.Conv2D(8, 3)
folded.build((None, 12, 12, 3))
folded.set_weights([kernel * scale, (bias - mean) * scale + beta])
x = rng.normal(size=(4, 12, 12, 3)).astype("float32")
mh.assert_close(folded(x), small(x, training=False), atol=1e-5, name="folded convolution")
unfolded_bias = keras.layers.Conv2D(8, 3)
unfolded_bias.build((None, 12, 12, 3))
unfolded_bias.set_weights([kernel * scale, (0 - mean) * scale + beta])  # forgetting b: must fail
assert np.abs(unfolded_bias(x) - small(x, training=False)).max() > 1e-2
print("Conv2D (with its bias) + BatchNormalization == one folded Conv2D within atol=1e-5")'''),
    md('''The folded convolution gives the same outputs to $10^{-5}$, and one that forgets the bias term $b$ does
not. The page "Draw a digit" and `python -m mnist_helpers.predict` run the shipped network folded this
way (`mnist_helpers.inference`): one layer less to compute per convolution, the same answers.

:::{solution-end}
:::'''),
    old(60) if False else md('''---'''),
]
# The receptive-field exercise, unchanged (cells 60's second half to 62)
_tail = src(60)
_tail = _tail[_tail.index(":::{exercise}"):]
ch9[-1] = md(_tail)
ch9 += [old(61), md(src(62)[:src(62).index(":::{exercise}\n:label: ch09-best-seed")].rstrip()), RUN_TIMES]

# --------------------------------------------------------------------------------------------- 09b
ch9b = [
    md('''# 9b. Choosing and measuring the CNN

**What you will learn:** how to choose a recipe on a validation split with a rule fixed in advance,
comparing candidates trained on the same images as paired comparisons (seed k with seed k, and the
images only one of them gets wrong: McNemar); what each part of the network buys, with 3 seeds per
arm and what the table cannot resolve; how much of a test score is the luck of the seed; and how fast
a CNN can reach 99% on two CPU cores.

**Time to run** on a 2-core CPU: <!-- glue time_full -->?<!-- /glue --> on the full data, <!-- glue time_fast -->?<!-- /glue --> in the fast mode (`MNIST_FAST=1`).'''),
    old(1), old(2),
    code('''N_SEEDS = mh.pick(full=N_SEEDS, fast=2)
import datetime
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import mnist_helpers as mh
from mnist_helpers import cnn, predict, recipes
from mnist_helpers.training import AccuracyCurve

mh.setup_book()
import keras  # after setup_book(), which starts TensorFlow quietly and with oneDNN's fast kernels

FINAL_EPOCHS = mh.pick(full=cnn.FINAL_EPOCHS, fast=2)'''),
    code('''(x_train_all, y_train_all), (x_test, y_test) = mh.load_mnist()
(_, _), (x_val, y_val) = mh.train_val_split(x_train_all, y_train_all, val_size=5000, seed=0)  # the search's split
x_train_all, y_train_all = mh.subsample(x_train_all, y_train_all, mh.pick(full=len(x_train_all), fast=6000))
print(f"validation {x_val.shape}, all training images {x_train_all.shape}, test {x_test.shape}")''', ("nbval-ignore-output",)),
    md('''## 1. How the recipe was chosen

**Provenance.** The network's family (a 5 x 5 convolution, then stacked 3 x 3 convolutions, batch
normalization, dropout, augmentation, warm-up + cosine decay) took shape before this book chose on a
validation split only: an early version of chapter 9 asserted a test accuracy of at least 99.60%, and
moved from 20 to 30 epochs after a run fell one error short of it (both are in the repository's
history). A first search on the validation split (2026-11-26, `search/cnn_search.json`: one or two
seeds per recipe, two of its five final-CNN candidates run) brought the recipe back to 20 epochs. The
recipe of this chapter was chosen again on 2026-12-03, among candidates trained with 3 seeds each, by
a rule written into `benchmarks/cnn_search.py` before those runs; none of them loaded the test set.
So the test figures below are honest measurements of the models they test, each made once, but the
family of networks was once steered by test scores: as an estimate for new digits they may be a
little optimistic, by an amount this book cannot measure.

**The rule** (`mh.stats.select_fastest`): the *best* candidate has the highest mean validation
accuracy over its seeds. Another candidate is *worse* only when both kinds of noise agree: its paired
difference from the best (seed k with seed k) is more than 2 standard errors below zero, and McNemar's
test on the images only one of them gets wrong, pooled over the seed pairs, gives $p < 0.05$.
Otherwise it *ties*, and of the best and its ties the fastest wins (median epoch time x epochs).

Each run trained on the 55,000 training images and recorded which of the 5,000 validation images its
final model gets wrong (`benchmarks/cnn_search.py`, study "choice"); this section reads that file.'''),
    code('''choice = mh.results.read_search(mh.results.results_folder() / "search" / "choice.json")
runs = pd.DataFrame(choice["runs"])
runs = runs.join(pd.DataFrame(list(runs.pop("args")), index=runs.index))
if "ablation" not in runs:
    runs["ablation"] = None
# Timings compare only on an idle machine: the script records the share of the CPUs others used.
assert runs["other_cpu_share"].max() < 0.05, "every run must come from an idle machine (cnn_search.py --rerun)"


def correct_of(run):
    """True where the run's final model classified validation image i correctly."""
    correct = np.ones(run["val_images"], bool)
    correct[run["val_wrong"]] = False
    return correct


def recipe_seconds(group):
    """Training time of a recipe: its median epoch time over all its runs' epochs, times its epochs."""
    return float(np.median(np.concatenate(group["epoch_seconds"].tolist())) * group["epochs"].iloc[0])


candidates = runs[(runs["model"] == "final") & runs["ablation"].isna() & (runs["seed"] < 3)]
groups = dict(tuple(candidates.groupby("recipe")))
selection = mh.stats.select_fastest({name: {r.seed: correct_of(r) for r in g.itertuples()} for name, g in groups.items()},
                                    {name: recipe_seconds(g) for name, g in groups.items()})
table = selection.as_frame()
table.insert(0, "epochs", [groups[name]["epochs"].iloc[0] for name in table.index])
table.insert(1, "augmentation", ["one warp" if groups[name]["affine_augmentation"].fillna(False).iloc[0]
                                 else "three layers" for name in table.index])
table.insert(2, "batch", [groups[name]["batch_size"].iloc[0] for name in table.index])
shown = pd.DataFrame({
    "epochs": table["epochs"], "augmentation": table["augmentation"], "batch": table["batch"],
    "val accuracy (mean ± sd)": [f"{m:.2%} ± {s:.2%}" for m, s in zip(table["mean"], table["sd"])],
    "vs best, points (± SE)": [f"{100 * d:+.2f} ± {100 * e:.2f}" for d, e in zip(table["difference"], table["se"])],
    "only it / only best wrong": [f"{a} / {b}" for a, b in zip(table["only_candidate_wrong"], table["only_best_wrong"])],
    "McNemar p": table["p_value"].map("{:.2g}".format), "train min": (table["seconds"] / 60).round(1),
    "verdict": table["verdict"]})
shown'''),
    code('''# The rule's choice is the package's recipe (mnist_helpers.recipes, which every script trains).
chosen = groups[selection.chosen].iloc[0]
package = dict(filters=list(recipes.FINAL_FILTERS), epochs=recipes.FINAL_EPOCHS, batch_size=recipes.FINAL_BATCH_SIZE,
               max_lr=recipes.FINAL_MAX_LR, affine_augmentation=recipes.FINAL_AFFINE_AUGMENTATION)
assert {key: (bool(chosen[key]) if key == "affine_augmentation" and chosen[key] == chosen[key] else chosen[key])
        for key in package} == package, f"the rule chose {selection.chosen}; the package trains {package}"
print(f"the rule chooses {selection.chosen!r}: the package's recipe")'''),
    code('''best, top = table.loc[selection.best], table.loc[selection.chosen]
mh.glue("choice_best", selection.best, display=False)
mh.glue("choice_best_val", float(best["mean"]), display=False)
mh.glue("choice_chosen", selection.chosen, display=False)
mh.glue("choice_chosen_val", float(top["mean"]), display=False)
mh.glue("choice_chosen_diff", float(100 * top["difference"]), display=False)
mh.glue("choice_chosen_se", float(100 * top["se"]), display=False)
mh.glue("choice_chosen_p", float(top["p_value"]), display=False)
mh.glue("choice_chosen_min", float(top["seconds"] / 60), display=False)
mh.glue("choice_best_min", float(best["seconds"] / 60), display=False)
worse = [name for name in table.index if table.loc[name, "verdict"] == "worse"]
mh.glue("choice_worse", ", ".join(worse) if worse else "none", display=False)
mh.glue("choice_largest_se", float(100 * table["se"].max()), display=False)''', GLUE_TAGS, hidden=True),
    md('''**Reading the table.** The most accurate candidate on validation is <!-- glue choice_best -->?<!-- /glue -->
(<!-- glue choice_best_val:.2% -->?<!-- /glue -->, <!-- glue choice_best_min:.1f -->?<!-- /glue --> min of training). The rule chooses
<!-- glue choice_chosen -->?<!-- /glue -->: <!-- glue choice_chosen_val:.2% -->?<!-- /glue -->, <!-- glue choice_chosen_diff:+.2f -->?<!-- /glue --> ± <!-- glue choice_chosen_se:.2f -->?<!-- /glue --> points from the best
(McNemar $p$ = <!-- glue choice_chosen_p:.2g -->?<!-- /glue -->), in <!-- glue choice_chosen_min:.1f -->?<!-- /glue --> min. Shown worse than the best:
<!-- glue choice_worse -->?<!-- /glue -->. What the table cannot resolve: with 3 seeds the standard errors of the
differences reach <!-- glue choice_largest_se:.2f -->?<!-- /glue --> points, so a candidate that ties may still be worse by
about that much; the rule accepts that risk in exchange for the time saved, and says so.'''),
    code('''fig, ax = plt.subplots(figsize=(6, 3))
for row in groups[selection.chosen].itertuples():
    ax.plot(range(1, len(row.val_accuracy) + 1), row.val_accuracy, marker=".", label=f"seed {row.seed}")
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_ylim(0.98, 1.0)
ax.set_title(f"{selection.chosen}: validation accuracy after each epoch")
ax.legend()
plt.show()'''),
    md('''**How to read it:** one line per seed, scored on the same 5,000 images after every epoch. The lines
rise steeply while the learning rate is high and flatten as the cosine brings it down; how far apart
they end is the seed's share of the noise.

## 2. What each part buys: ablations with 3 seeds per arm

The chosen recipe, then the same with one part removed or swapped at a time, each trained with seeds
3, 4 and 5 (not the seeds that chose the recipe, so that the reference row is not the lucky draw that
won), the reference included. Each row compares an arm with the reference, seed k with seed k.'''),
    code('''ablation_runs = runs[(runs["candidate"] == selection.chosen) & (runs["seed"] >= 3)].copy()
ablation_runs["ablation"] = ablation_runs["ablation"].fillna("the recipe")
arms = dict(tuple(ablation_runs.groupby("ablation")))
assert set(arms) == {"the recipe", *choice["ablations"]}, "every ablation of the recipe must be in the search"
reference = {r.seed: correct_of(r) for r in arms["the recipe"].itertuples()}
rows = {}
for name, group in arms.items():
    accuracy = mh.stats.summarize_accuracies([r.val_accuracy[-1] for r in group.itertuples()])
    row = {"val accuracy (mean ± sd)": f"{accuracy.mean:.2%} ± {accuracy.sd:.2%}", "seeds": accuracy.k,
           "train min": round(recipe_seconds(group) / 60, 1)}
    if name != "the recipe":
        pair = mh.stats.compare_seeds_correct([correct_of(r) for r in group.sort_values("seed").itertuples()],
                                             [reference[seed] for seed in sorted(group["seed"])])
        costs = pair.mean_difference < -2 * pair.se_difference and pair.p_value < 0.05
        row.update({"vs the recipe, points (± SE)": f"{100 * pair.mean_difference:+.2f} ± {100 * pair.se_difference:.2f}",
                    "only it / only recipe wrong": f"{pair.only_a_wrong} / {pair.only_b_wrong}",
                    "McNemar p": f"{pair.p_value:.2g}", "verdict": "costs accuracy" if costs else "not resolved"})
    rows[name] = row
ablations = pd.DataFrame.from_dict(rows, orient="index").fillna("")
ablations'''),
    code('''resolved = [name for name, row in rows.items() if row.get("verdict") == "costs accuracy"]
mh.glue("ablation_costs", ", ".join(resolved) if resolved else "none of them", display=False)
mh.glue("ablation_unresolved", ", ".join(n for n in rows if n != "the recipe" and n not in resolved) or "none",
        display=False)
mh.glue("ablation_reference", float(np.mean([r.val_accuracy[-1] for r in arms["the recipe"].itertuples()])),
        display=False)''', GLUE_TAGS, hidden=True),
    md('''**Reading the table.** With seeds 3 to 5 the recipe scores <!-- glue ablation_reference:.2% -->?<!-- /glue --> on
validation. Removing or swapping a part costs accuracy, by both the seed-paired difference and
McNemar's test, for: <!-- glue ablation_costs -->?<!-- /glue -->. Not resolved: <!-- glue ablation_unresolved -->?<!-- /glue -->. A
part whose removal is not resolved is not shown to be useless: 3 seeds on 5,000 images cannot see
effects smaller than about two of the standard errors in its row. The curves show *how* two of the
parts act:'''),
    code('''fig, ax = plt.subplots(figsize=(6.5, 3.2))
for name, colour in (("the recipe", "C0"), ("no batch normalization", "C1"), ("constant learning rate 1e-3", "C2")):
    curves = np.array([r.val_accuracy for r in arms[name].itertuples()])
    epochs = np.arange(1, curves.shape[1] + 1)
    for curve in curves:
        ax.plot(epochs, curve, color=colour, alpha=0.3, linewidth=0.8)
    ax.plot(epochs, curves.mean(axis=0), color=colour, marker=".", label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("validation accuracy")
ax.set_ylim(0.97, 1.0)
ax.legend()
plt.show()'''),
    md('''**How to read it:** thick lines are the mean over the 3 seeds, thin lines the seeds. Without batch
normalization the network starts slower, since it cannot use the high peak rate as well; with a constant
rate the curve keeps bouncing at the end instead of settling, because nothing brings the steps down.
Where the thick lines end relative to each other is what the table measures.

## 3. The final recipe on all 60,000 images, over seeds

Same recipe, nothing held out, `N_SEEDS` seeds fixed in advance. Each model is tested once. The model
shipped with the package is the one of seed 0, chosen before training.'''),
    code('''seed_models, seed_rows = {}, []
for seed in range(N_SEEDS):
    model, _, seconds = cnn.train_final_cnn(x_train_all, y_train_all, epochs=FINAL_EPOCHS, seed=seed, quiet=True)
    probs = model.predict(x_test, verbose=0)
    seed_models[seed] = (model, probs)
    seed_rows.append({"seed": seed, "test accuracy": float(np.mean(probs.argmax(axis=1) == y_test)),
                      "test errors": int(np.sum(probs.argmax(axis=1) != y_test)), "train min": seconds / 60})
    print(f"seed {seed}: test accuracy {seed_rows[-1]['test accuracy']:.4f} in {seconds / 60:.1f} min")
seeds_table = pd.DataFrame(seed_rows).set_index("seed")
final_stats = mh.results.seed_summary(seeds_table["test accuracy"])
print(f"\\nfinal CNN over {N_SEEDS} seeds: test accuracy {final_stats['mean']:.4f} ± {final_stats['sd']:.4f} "
      f"(min {final_stats['min']:.4f}, max {final_stats['max']:.4f}), {seeds_table['train min'].mean():.1f} min each")''',
         ("nbval-ignore-output",)),
    code('''assert final_stats["n"] == N_SEEDS and final_stats["min"] >= mh.pick(full=0.99, fast=0.5)  # sanity floor, not a goal
final, final_probs = seed_models[0]  # the model of seed 0 ships, whatever its rank
final_pred = final_probs.argmax(axis=1)
rank = int((seeds_table["test accuracy"] > seeds_table.loc[0, "test accuracy"]).sum()) + 1
ties = int((seeds_table["test accuracy"] == seeds_table.loc[0, "test accuracy"]).sum()) - 1
ordinal = {1: "the highest", 2: "the second highest", 3: "the third highest"}.get(rank, f"number {rank}")
mh.glue("seed0_rank", ordinal + (f" (tied with {ties} other seed{'s' * (ties > 1)})" if ties else ""), display=False)''',
         ("remove-cell",), hidden=True),
    old(46),
    md('''Over <!-- glue seeds_n -->?<!-- /glue --> seeds the final recipe scores <!-- glue seeds_mean:.2% -->?<!-- /glue --> ± <!-- glue seeds_sd:.2% -->?<!-- /glue --> (standard deviation) on the test set, from <!-- glue seeds_min:.2% -->?<!-- /glue --> to <!-- glue seeds_max:.2% -->?<!-- /glue -->, in <!-- glue seeds_minutes:.1f -->?<!-- /glue --> min of training each. The spread between
seeds is the size of difference a single run cannot resolve. The shipped model, seed 0, scores <!-- glue seed0_acc:.2% -->?<!-- /glue --> (<!-- glue seed0_errors -->?<!-- /glue --> errors): it was chosen before training, and it happens to score
<!-- glue seed0_rank -->?<!-- /glue --> of the <!-- glue seeds_n -->?<!-- /glue -->. Chosen in advance, its score is one honest draw from that spread.'''),
    old(48), old(49), old(50), old(51),
    md('''## 5. The speed run: 99% as fast as possible

How little training reaches 99.0% accuracy on this 2-core CPU, and *stays* there? Speed comes from
doing less work per image and seeing each image fewer times: a small network (two batch-normalized
convolution blocks, `cnn.build_speed_cnn`), no augmentation and no dropout (in a few epochs nothing
over-fits), a high peak learning rate that batch normalization tolerates, and warm-up + cosine decay so
that the few steps there are end in a minimum. The candidates were trained on the 55,000 training images
with 3 seeds each and scored on validation four times per epoch (off the training clock). The rule,
fixed before those runs: of the candidates whose every seed stays at or above 99.0% from some
evaluation to the end of training, the one with the smallest mean *sustained* time to 99.0%, the time
from which it no longer dips below. (A first crossing can dip again; an earlier version of this
chapter quoted first crossings.)'''),
    code('''def sustained(curve, level=0.99):
    """Training seconds from which validation accuracy stays >= level to the end; None if the end is below."""
    since = None
    for seconds, accuracy in zip(curve["seconds"], curve["accuracy"]):
        since = (seconds if since is None else since) if accuracy >= level else None
    return since


speed_runs = runs[(runs["model"] == "speed") & runs["ablation"].isna() & (runs["seed"] < 3)]
speed_rows = {}
for name, group in speed_runs.groupby("recipe"):
    times = [sustained(curve) for curve in group["val_curve"]]
    speed_rows[name] = {"filters": "-".join(map(str, group["filters"].iloc[0])), "epochs": group["epochs"].iloc[0],
                        "batch": group["batch_size"].iloc[0], "peak lr": group["max_lr"].iloc[0], "seeds": len(group),
                        "val accuracy at the end": float(np.mean([a[-1] for a in group["val_accuracy"]])),
                        "seeds that keep 99%": sum(t is not None for t in times),
                        "sustained s to 99% (mean)": float(np.mean(times)) if None not in times else np.nan,
                        "train s": float(group["train_seconds"].mean())}
speed_table = pd.DataFrame.from_dict(speed_rows, orient="index").sort_values("sustained s to 99% (mean)")
eligible = speed_table[(speed_table["seeds"] >= 3) & (speed_table["seeds that keep 99%"] == speed_table["seeds"])]
speed_name = eligible["sustained s to 99% (mean)"].idxmin()
package_speed = dict(filters=list(recipes.SPEED_FILTERS), epochs=recipes.SPEED_EPOCHS,
                     batch_size=recipes.SPEED_BATCH_SIZE, max_lr=recipes.SPEED_MAX_LR)
chosen_speed = speed_runs[speed_runs["recipe"] == speed_name].iloc[0]
assert {key: chosen_speed[key] for key in package_speed} == package_speed, \\
    f"the rule chose {speed_name}; the package's speed recipe is {package_speed}"
speed_table.round({"val accuracy at the end": 4, "sustained s to 99% (mean)": 1, "train s": 1})'''),
    md('''The chosen recipe, trained on all 60,000 images with `N_SEEDS` seeds, each tested once at the end. The
test accuracy is also measured four times per epoch, off the training clock, for the sustained time per
seed only: nothing is chosen from it.'''),
    code('''speed_seed_rows = []
for seed in range(N_SEEDS):
    keras.utils.set_random_seed(seed)
    curve = AccuracyCurve(x_test, y_test, per_epoch=4)
    model, _, seconds = cnn.train_with_schedule(cnn.build_speed_cnn(cnn.SPEED_FILTERS), x_train_all, y_train_all,
                                                epochs=cnn.SPEED_EPOCHS, batch_size=cnn.SPEED_BATCH_SIZE,
                                                max_lr=cnn.SPEED_MAX_LR, quiet=True, callbacks=[curve])
    accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    speed_seed_rows.append({"seed": seed, "test accuracy": accuracy, "train s": seconds - curve.evaluation_seconds,
                            "first reaches 99% (s)": curve.seconds_to_reach(0.99),
                            "stays at 99% from (s)": curve.seconds_to_sustain(0.99)})
speed_seeds = pd.DataFrame(speed_seed_rows).set_index("seed")
speed_stats = mh.results.seed_summary(speed_seeds["test accuracy"])
print(f"speed run over {N_SEEDS} seeds: test accuracy {speed_stats['mean']:.4f} ± {speed_stats['sd']:.4f} "
      f"(min {speed_stats['min']:.4f}), {speed_seeds['train s'].mean():.1f} s of training each")
speed_seeds.round(1)''', ("nbval-ignore-output",)),
    code('''mh.glue("speed_name", speed_name, display=False)
mh.glue("speed_mean", float(speed_stats["mean"]), display=False)
mh.glue("speed_sd", float(speed_stats["sd"]), display=False)
mh.glue("speed_min", float(speed_stats["min"]), display=False)
mh.glue("speed_seconds", float(speed_seeds["train s"].mean()), display=False)
mh.glue("speed_epochs", cnn.SPEED_EPOCHS, display=False)
kept = speed_seeds["stays at 99% from (s)"].dropna()
mh.glue("speed_kept", len(kept), display=False)
mh.glue("speed_sustained", float(kept.mean()) if len(kept) else float("nan"), display=False)''', GLUE_TAGS, hidden=True),
    md('''The rule chose <!-- glue speed_name -->?<!-- /glue -->. In <!-- glue speed_epochs -->?<!-- /glue --> epoch(s) on all 60,000 images it
reaches <!-- glue speed_mean:.2% -->?<!-- /glue --> ± <!-- glue speed_sd:.2% -->?<!-- /glue --> on the test set (lowest seed <!-- glue speed_min:.2% -->?<!-- /glue -->) with
<!-- glue speed_seconds:.0f -->?<!-- /glue --> s of training each; <!-- glue speed_kept -->?<!-- /glue --> of the <!-- glue seeds_n -->?<!-- /glue --> seeds stay at 99% or
above from some point to the end, after <!-- glue speed_sustained:.0f -->?<!-- /glue --> s on average. What makes it fast,
as tried here rather than ablated: few multiply-adds per image (narrow convolutions), few passes over
the data, no augmentation to compute, and a schedule that spends its last steps at a small rate.

For scale, two published speed runs. The C++ library mojo-cnn reports 99% "in less than a minute"
on a CPU ([its README](https://github.com/gnawice/mojo-cnn)). train_mnist_fast reports a mean of
99.04% in 0.76 s on a laptop GPU (a GTX 1660 Ti), with one epoch of a small network, a one-cycle
schedule and the whole data set kept in the GPU's memory; its loop stops at the epoch that reaches 99%
on the *test* set, so that figure is a stopping time chosen with the test set
([its README](https://github.com/tuomaso/train_mnist_fast)). Neither ran on this machine, so their
times do not compare with the ones above.

## 6. About the times

Times on this page are wall-clock seconds on the machine that ran it (its processor is in the results
file). Whole epochs of identical runs vary by ±30% on a virtual machine, and some take twice the
median, so the choices above use median epoch times, and the speed run's figure is the sustained time,
not a first crossing. `benchmarks/cnn_benchmark.py` trains the same recipes with the same seeds next to
the Keras example in one run and gives the ratios; its accuracies repeat this chapter's, because runs
are deterministic on one processor. The results page shows that run, spread included.

## 7. Where this leaves us

The full run saves the model of seed 0 as the package's shipped model (`mnist_helpers/model/`), with a
metrics file from which its model card is generated, and writes this chapter's results for the book's
results page. Chapter 10 uses that model.'''),
    code('''if not mh.fast_mode():  # the full run ships seed 0's model, with its metrics and model card
    augmentation_text = ("one affine warp per image" if recipes.FINAL_AFFINE_AUGMENTATION else "Keras' three layers")
    final.save(predict.DEFAULT_MODEL)
    mh.model_card.write_metrics({
        "notebook": "notebooks/09b_choosing_the_cnn.ipynb", "date": datetime.date.today().isoformat(),
        "test_accuracy": seeds_table.loc[0, "test accuracy"], "test_errors": int(seeds_table.loc[0, "test errors"]),
        "test_images": len(x_test), "train_images": len(x_train_all), "epochs": FINAL_EPOCHS,
        "batch_size": cnn.FINAL_BATCH_SIZE, "seed": 0, "params": final.count_params(),
        "recipe": f"filters {'-'.join(map(str, cnn.FINAL_FILTERS))}, Adam with warm-up + cosine decay to a peak "
                  f"learning rate of {cnn.FINAL_MAX_LR:g}, batches of {cnn.FINAL_BATCH_SIZE}, augmentation "
                  f"({augmentation_text}): rotation 10 degrees, shift 10%, zoom 10%",
        "train_seconds": seeds_table.loc[0, "train min"] * 60, "cpus": os.cpu_count(), "keras": keras.__version__,
        "validation_images": len(x_val), "validation_accuracy": float(top["mean"]),
        "seeds": N_SEEDS, "seed_mean_test_accuracy": final_stats["mean"], "seed_sd_test_accuracy": final_stats["sd"],
        "seed_min_test_accuracy": final_stats["min"], "seed_max_test_accuracy": final_stats["max"]})
final_row = {"train_images": len(x_train_all), "params": final.count_params(), "epochs": FINAL_EPOCHS}
mh.record_results("09b_choosing_the_cnn", [
    {"model": f"final CNN, mean of {N_SEEDS} seeds", "test_accuracy": final_stats["mean"],
     "test_accuracy_sd": final_stats["sd"], "test_accuracy_min": final_stats["min"],
     "test_accuracy_max": final_stats["max"], "seeds": list(range(N_SEEDS)),
     "train_seconds": seeds_table["train min"].mean() * 60, **final_row},
    {"model": "final CNN, seed 0 (the shipped model)", "test_accuracy": seeds_table.loc[0, "test accuracy"],
     "train_seconds": seeds_table.loc[0, "train min"] * 60, **final_row},
    {"model": f"final CNN, ensemble of {N_SEEDS} seeds", "test_accuracy": ensemble_test_acc,
     "train_seconds": seeds_table["train min"].sum() * 60, "train_images": len(x_train_all)},
    {"model": f"speed run, mean of {N_SEEDS} seeds ({cnn.SPEED_EPOCHS} epochs)", "test_accuracy": speed_stats["mean"],
     "test_accuracy_sd": speed_stats["sd"], "test_accuracy_min": speed_stats["min"],
     "test_accuracy_max": speed_stats["max"], "seeds": list(range(N_SEEDS)),
     "train_seconds": speed_seeds["train s"].mean(), "train_images": len(x_train_all), "epochs": cnn.SPEED_EPOCHS},
], title="Choosing and measuring the CNN", chapter="09b_choosing_the_cnn",
   description="Chapter 9b: the final CNN over seeds, seed 0 (shipped) and their ensemble; the speed run over seeds.");''',
         ("nbval-ignore-output", "remove-cell"), hidden=True),
    md('''## Summary

* The recipe was chosen on the validation split by a rule fixed before the runs: the fastest candidate
  not shown worse than the best, by the seed-paired difference and by McNemar's test together. It chose
  <!-- glue choice_chosen -->?<!-- /glue -->, <!-- glue choice_chosen_min:.1f -->?<!-- /glue --> min of training against <!-- glue choice_best_min:.1f -->?<!-- /glue --> for the most
  accurate candidate.
* With 3 seeds per arm, removing a part costs accuracy for: <!-- glue ablation_costs -->?<!-- /glue -->; the other
  parts' effects are too small for this table to resolve.
* Over <!-- glue seeds_n -->?<!-- /glue --> seeds the final recipe scores <!-- glue seeds_mean:.2% -->?<!-- /glue --> ± <!-- glue seeds_sd:.2% -->?<!-- /glue --> on the
  test set; an ensemble of them <!-- glue ensemble_acc:.2% -->?<!-- /glue -->. The shipped model is seed 0, chosen in advance.
* A small network trained for <!-- glue speed_epochs -->?<!-- /glue --> epoch(s) reaches <!-- glue speed_mean:.2% -->?<!-- /glue --> in <!-- glue speed_seconds:.0f -->?<!-- /glue --> s.

## Exercises'''),
    md(src(62)[src(62).index(":::{exercise}\n:label: ch09-best-seed"):]),
    md(''':::{exercise}
:label: ch09-how-many-seeds

Two recipes differ by 0.05 points in mean *validation* accuracy. With the seed-to-seed standard
deviation of the final recipe measured above, roughly how many seeds of each would you need to tell
them apart, and how often would you succeed?
:::

:::{solution-start} ch09-how-many-seeds
:class: dropdown
:::
A difference of two means of $n$ seeds each has a standard error of $\\sigma\\sqrt{2/n}$. Calling a
difference "real" when it exceeds two standard errors, a true difference $\\delta$ sits exactly at the
threshold when $n = 8\\sigma^2/\\delta^2$, and is then detected only about half of the time (the estimate
falls on either side of the threshold). Detecting it 80% of the time needs the threshold about 0.84
standard errors below $\\delta$: $n \\approx 2(2 + 0.84)^2\\sigma^2/\\delta^2 \\approx 16\\sigma^2/\\delta^2$.
The test-set spread is used here as a stand-in for the validation spread (the two are close for the
same recipe), unrounded:'''),
    code('''delta = 0.0005
sd = float(np.std(seeds_table["test accuracy"], ddof=1))  # unrounded, unlike final_stats
half, most = (int(np.ceil(k * sd ** 2 / delta ** 2)) for k in (8, 2 * (2 + 0.84) ** 2))
print(f"sd between seeds {sd:.5f}: about {half} seeds of each for a 50% chance, {most} for 80%")
assert most > half
mh.glue("seeds_needed_half", half, display=False)
mh.glue("seeds_needed_most", most, display=False)''', ("nbval-ignore-output",)),
    md('''With the spread measured in the full run: about <!-- glue seeds_needed_half -->?<!-- /glue --> seeds of each recipe to
detect such a difference half of the time, <!-- glue seeds_needed_most -->?<!-- /glue --> to detect it four times in five.
This chapter's tables use 3 per arm: differences of a few hundredths of a point between their rows are
left unresolved, as the tables say.

:::{solution-end}
:::'''),
    RUN_TIMES,
]

if __name__ == "__main__":
    out = ROOT / "drafts"
    for name, cells in (("09_final_cnn.ipynb", ch9), ("09b_choosing_the_cnn.ipynb", ch9b)):
        nb = {**OLD, "cells": cells}
        (out / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out / name}: {len(cells)} cells")
