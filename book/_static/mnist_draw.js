// "Try it: draw a digit" (book/draw.md): the book's final CNN, run in the browser.
//
// Plain JavaScript, no library, no build step, no network: the weights come from
// mnist_cnn_weights.js (loaded just before this file; it sets window.MNIST_CNN), so the page
// works opened from disk too, where browsers refuse fetch().
//
// Three parts:
//   1. the forward pass: the same maths as the book's NumPy references, chapter 7's conv2d and
//      max_pool2d (mnist_helpers/convolution.py), plus dense, ReLU and softmax (chapters 4-5);
//   2. the preprocessing: the same steps as mnist_helpers.predict.preprocess_image, down to
//      Pillow's Lanczos resampling, so the network sees what `python -m mnist_helpers.predict`
//      would make of the same drawing;
//   3. the page: a canvas (pointer events: mouse, touch, pen), the 28 x 28 input, the bars.
//
// For the tests and the curious: window.mnistDraw.predict(pixels) and .preprocess(rgba, w, h).
(function () {
  "use strict";

  // ======================================================================= 1. the network
  // Activations are channels-last, (h, w, c) in C order, as Keras keeps them: element
  // [i, j, c] of a map is data[(i * w + j) * c_count + c]. Keras' Flatten reads the same order,
  // so flattening is free.

  function fromBase64(text) {
    const bytes = atob(text);
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
    return out;
  }

  // The export stores each kernel as int8 with one scale per output channel (the last axis):
  // kernel[..., o] = q[..., o] * scale[o].
  function dequantize(layer) {
    const q = new Int8Array(fromBase64(layer.kernel_int8).buffer);
    const cOut = layer.kernel_shape[layer.kernel_shape.length - 1];
    const kernel = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) kernel[i] = q[i] * layer.kernel_scale[i % cOut];
    return kernel;
  }

  function loadNetwork(data) {
    return data.layers.map(function (layer) {
      if (layer.kernel_int8 === undefined) return layer;
      return Object.assign({}, layer, { kernel: dequantize(layer), bias: Float32Array.from(layer.bias) });
    });
  }

  // Length of a convolution or pooling output along one axis, as Keras computes it
  // (convolution.output_size): "valid" keeps the windows that fit, "same" pads with zeros.
  function outputSize(size, window, stride, padding) {
    if (padding === "same") return Math.ceil(size / stride);
    return Math.max(Math.floor((size - window) / stride) + 1, 0);
  }

  // Keras/TensorFlow's "same" padding before the first pixel; the odd pixel goes after
  // (convolution._same_padding).
  function padBefore(size, window, stride, padding) {
    if (padding !== "same") return 0;
    const total = Math.max((outputSize(size, window, stride, "same") - 1) * stride + window - size, 0);
    return Math.floor(total / 2);
  }

  // conv2d: 2-D cross-correlation, like keras.layers.Conv2D (the kernel is not flipped).
  //   y[i, j, o] = bias[o] + sum over u, v, c of x_padded[s_h*i + u, s_w*j + v, c] * kernel[u, v, c, o]
  // kernel is Keras' layout (kh, kw, c_in, c_out) flattened; padded pixels are zeros, so they
  // are simply skipped.
  function conv2d(x, kernel, shape, bias, padding, strides) {
    const [kh, kw, cIn, cOut] = shape;
    const [sh, sw] = strides;
    const hOut = outputSize(x.h, kh, sh, padding), wOut = outputSize(x.w, kw, sw, padding);
    const top = padBefore(x.h, kh, sh, padding), left = padBefore(x.w, kw, sw, padding);
    const y = new Float32Array(hOut * wOut * cOut);
    const sum = new Float64Array(cOut);
    for (let i = 0; i < hOut; i++) {
      for (let j = 0; j < wOut; j++) {
        sum.set(bias);
        for (let u = 0; u < kh; u++) {
          const row = sh * i + u - top;
          if (row < 0 || row >= x.h) continue;
          for (let v = 0; v < kw; v++) {
            const col = sw * j + v - left;
            if (col < 0 || col >= x.w) continue;
            const xAt = (row * x.w + col) * cIn;
            const kAt = (u * kw + v) * cIn * cOut;
            for (let c = 0; c < cIn; c++) {
              const value = x.data[xAt + c];
              if (value === 0) continue;  // after ReLU most inputs are 0: nothing to add
              const k = kAt + c * cOut;
              for (let o = 0; o < cOut; o++) sum[o] += value * kernel[k + o];
            }
          }
        }
        y.set(sum, (i * wOut + j) * cOut);
      }
    }
    return { data: y, h: hOut, w: wOut, c: cOut };
  }

  // max_pool2d: like keras.layers.MaxPooling2D.
  //   y[i, j, c] = max over u < p_h, v < p_w of x_padded[s_h*i + u, s_w*j + v, c]
  // "same" pads with -inf, so padded pixels never win: they are skipped.
  function maxPool2d(x, poolSize, strides, padding) {
    const [ph, pw] = poolSize, [sh, sw] = strides;
    const hOut = outputSize(x.h, ph, sh, padding), wOut = outputSize(x.w, pw, sw, padding);
    const top = padBefore(x.h, ph, sh, padding), left = padBefore(x.w, pw, sw, padding);
    const y = new Float32Array(hOut * wOut * x.c).fill(-Infinity);
    for (let i = 0; i < hOut; i++) {
      for (let j = 0; j < wOut; j++) {
        const out = (i * wOut + j) * x.c;
        for (let u = 0; u < ph; u++) {
          const row = sh * i + u - top;
          if (row < 0 || row >= x.h) continue;
          for (let v = 0; v < pw; v++) {
            const col = sw * j + v - left;
            if (col < 0 || col >= x.w) continue;
            const at = (row * x.w + col) * x.c;
            for (let c = 0; c < x.c; c++) y[out + c] = Math.max(y[out + c], x.data[at + c]);
          }
        }
      }
    }
    return { data: y, h: hOut, w: wOut, c: x.c };
  }

  // dense: z = x W + b (chapter 4), W in Keras' layout (n_in, n_out).
  function dense(x, kernel, bias) {
    const nOut = bias.length, nIn = x.data.length;
    const z = Float64Array.from(bias);
    for (let i = 0; i < nIn; i++) {
      const value = x.data[i];
      if (value === 0) continue;
      const k = i * nOut;
      for (let o = 0; o < nOut; o++) z[o] += value * kernel[k + o];
    }
    return { data: Float32Array.from(z), h: 1, w: 1, c: nOut };
  }

  function relu(x) {
    return Object.assign({}, x, { data: x.data.map(function (v) { return v > 0 ? v : 0; }) });
  }

  // softmax(z)_k = exp(z_k) / sum_j exp(z_j), with max(z) subtracted first so exp cannot
  // overflow (chapter 5).
  function softmax(x) {
    const top = Math.max.apply(null, x.data);
    const e = x.data.map(function (v) { return Math.exp(v - top); });
    const total = e.reduce(function (a, b) { return a + b; }, 0);
    return Object.assign({}, x, { data: e.map(function (v) { return v / total; }) });
  }

  // The probabilities of the ten digits for one image: 784 grey levels 0..255, white ink on
  // black, row by row (what mh.load_mnist() gives and preprocess() returns).
  function predict(network, pixels) {
    if (pixels.length !== 28 * 28) throw new Error("predict: expected 784 pixels, got " + pixels.length);
    let x = { data: Float32Array.from(pixels), h: 28, w: 28, c: 1 };  // Reshape (28, 28) -> (28, 28, 1)
    for (const layer of network) {
      switch (layer.op) {
        case "rescale": x.data = x.data.map(function (v) { return v * layer.scale + layer.offset; }); break;
        case "conv2d": x = conv2d(x, layer.kernel, layer.kernel_shape, layer.bias, layer.padding, layer.strides); break;
        case "max_pool2d": x = maxPool2d(x, layer.pool_size, layer.strides, layer.padding); break;
        case "flatten": x = { data: x.data, h: 1, w: 1, c: x.data.length }; break;  // (h, w, c) order kept
        case "dense": x = dense(x, layer.kernel, layer.bias); break;
        case "relu": x = relu(x); break;
        case "softmax": x = softmax(x); break;
        default: throw new Error("unknown layer " + layer.op + ": mnist_cnn_weights.js is newer than mnist_draw.js");
      }
    }
    return x.data;
  }

  // ======================================================================= 2. preprocessing
  // mnist_helpers.predict.preprocess_image, step by step.

  const MIN_CONTRAST = 32;   // predict.MIN_CONTRAST: less than this is a blank image
  const INK_THRESHOLD = 0.15; // predict._ink: fainter than this is paper, not ink

  // Python's round(): halves go to the even neighbour (round(2.5) == 2, round(-3.5) == -4).
  function roundHalfEven(x) {
    const r = Math.round(x);
    return (Math.abs(x % 1) === 0.5 && r % 2 !== 0) ? r - 1 : r;
  }

  // Grey levels as Pillow's convert("L") computes them (ITU-R 601-2 luma, in fixed point).
  // predict.to_grayscale first composites transparent images on white paper; the canvas here is
  // opaque, where that is the identity, and other pixels are blended the usual way.
  function toGray(rgba, width, height) {
    const gray = new Uint8Array(width * height);
    const onWhite = function (v, a) { return Math.round(v * a + 255 * (1 - a)); };
    for (let p = 0; p < gray.length; p++) {
      const a = rgba[4 * p + 3] / 255;
      const r = onWhite(rgba[4 * p], a), g = onWhite(rgba[4 * p + 1], a), b = onWhite(rgba[4 * p + 2], a);
      gray[p] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }
    return gray;
  }

  function median(values) {
    const s = Float64Array.from(values).sort();
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  // predict._ink: ink 0..1 whichever way round the image is; null for a blank image. The
  // background is the median of the border; on light paper the ink is dark, so invert.
  function ink(gray, width, height) {
    const border = [];
    for (let x = 0; x < width; x++) border.push(gray[x], gray[(height - 1) * width + x]);
    for (let y = 0; y < height; y++) border.push(gray[y * width], gray[y * width + width - 1]);
    const background = median(border);
    let low = 255, high = 0;
    for (const v of gray) { low = Math.min(low, v); high = Math.max(high, v); }
    if (high - low < MIN_CONTRAST) return null;
    const out = new Float64Array(gray.length);
    let top = 0;
    for (let p = 0; p < gray.length; p++) {
      out[p] = Math.max(background > 127 ? background - gray[p] : gray[p] - background, 0);
      top = Math.max(top, out[p]);
    }
    if (top < MIN_CONTRAST) return null;
    for (let p = 0; p < out.length; p++) {
      out[p] /= top;
      if (out[p] < INK_THRESHOLD) out[p] = 0;
    }
    return out;
  }

  // Pillow's Lanczos resampling (Image.resize with LANCZOS, libImaging/Resample.c) of an 8-bit
  // image: a windowed sinc, a = 3, stretched by the scale when shrinking; one pass along each
  // axis, each rounded to 8 bits; weights in fixed point with 22 fractional bits. Mirrored to
  // the last bit, so that the result is Pillow's exactly (the tests check it).
  const PRECISION_BITS = 22;

  function sinc(x) {
    if (x === 0) return 1;
    x *= Math.PI;
    return Math.sin(x) / x;
  }

  function lanczos(x) {
    return (x >= -3 && x < 3) ? sinc(x) * sinc(x / 3) : 0;
  }

  // For each output pixel along one axis: the first input pixel it reads and its integer weights.
  function resampleCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 3 * filterScale;
    const taps = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      const w = [];
      for (let x = xmin; x < xmax; x++) w.push(lanczos((x - center + 0.5) * (1 / filterScale)));
      const total = w.reduce(function (a, b) { return a + b; }, 0);
      const fixed = w.map(function (k) {
        k = total !== 0 ? k / total : k;
        return Math.trunc(k < 0 ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
      });
      taps.push({ start: xmin, weights: fixed });
    }
    return taps;
  }

  // One pass: resample `src` (width x height) along x (horizontal) or y to `newSize` pixels.
  function resamplePass(src, width, height, newSize, horizontal) {
    const taps = resampleCoefficients(horizontal ? width : height, newSize);
    const outWidth = horizontal ? newSize : width, outHeight = horizontal ? height : newSize;
    const step = horizontal ? 1 : width;  // from one input pixel to the next along the axis
    const out = new Uint8Array(outWidth * outHeight);
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        const tap = taps[horizontal ? x : y];
        const first = horizontal ? y * width + tap.start : tap.start * width + x;
        let sum = 1 << (PRECISION_BITS - 1);  // + 0.5, so the shift below rounds
        for (let t = 0; t < tap.weights.length; t++) sum += src[first + t * step] * tap.weights[t];
        out[y * outWidth + x] = Math.min(Math.max(Math.floor(sum / (1 << PRECISION_BITS)), 0), 255);
      }
    }
    return out;
  }

  function resizeLanczos(src, width, height, newWidth, newHeight) {
    // Pillow 13 resamples vertically first when the height shrinks by more than twice as many
    // pixels as the width (Pillow pull request 9549), horizontally first otherwise; the 8-bit
    // rounding between the passes makes the order visible. An axis that keeps its size is left alone.
    const verticalFirst = newHeight < height && height - newHeight > 2 * (width - newWidth);
    let img = src, w = width, h = height;
    for (const horizontal of verticalFirst ? [false, true] : [true, false]) {
      if (horizontal && newWidth !== w) { img = resamplePass(img, w, h, newWidth, true); w = newWidth; }
      if (!horizontal && newHeight !== h) { img = resamplePass(img, w, h, newHeight, false); h = newHeight; }
    }
    return img;
  }

  // The 28 x 28 image (Uint8Array of 784, white ink on black) an RGBA image of any size turns
  // into, or null when it is blank. Steps of predict.preprocess_image: grey levels; ink (invert
  // a light background, drop faint pixels); crop to the ink; fit the larger side into 20 pixels
  // keeping the aspect ratio (Lanczos); paste in the middle of 28 x 28; shift by whole pixels so
  // the centre of mass lands on (14, 14). (preprocess_image also refuses several digits side
  // by side; here the network is shown whatever is drawn.)
  function preprocess(rgba, width, height) {
    const inked = ink(toGray(rgba, width, height), width, height);
    if (inked === null) return null;
    let r0 = height, r1 = -1, c0 = width, c1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (inked[y * width + x] === 0) continue;
        r0 = Math.min(r0, y); r1 = Math.max(r1, y); c0 = Math.min(c0, x); c1 = Math.max(c1, x);
      }
    }
    const h = r1 - r0 + 1, w = c1 - c0 + 1;
    const crop = new Uint8Array(h * w);  // (ink * 255).astype(uint8): truncated, not rounded
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) crop[y * w + x] = Math.trunc(inked[(r0 + y) * width + c0 + x] * 255);
    }
    const scale = 20 / Math.max(h, w);
    const newH = Math.max(1, roundHalfEven(h * scale)), newW = Math.max(1, roundHalfEven(w * scale));
    const small = resizeLanczos(crop, w, h, newW, newH);

    const canvas = new Float64Array(28 * 28);
    const top = Math.floor((28 - newH) / 2), left = Math.floor((28 - newW) / 2);
    let mass = 0, rowMass = 0, colMass = 0;
    for (let y = 0; y < newH; y++) {
      for (let x = 0; x < newW; x++) {
        const v = small[y * newW + x];
        canvas[(top + y) * 28 + left + x] = v;
        mass += v; rowMass += v * (top + y); colMass += v * (left + x);
      }
    }
    const out = new Uint8Array(28 * 28);
    if (mass === 0) return out;  // scipy's centre of mass would be NaN; nothing to centre
    const dy = roundHalfEven(14 - rowMass / mass), dx = roundHalfEven(14 - colMass / mass);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const sy = y - dy, sx = x - dx;  // pixels shifted in from outside are 0
        if (sy >= 0 && sy < 28 && sx >= 0 && sx < 28) out[y * 28 + x] = canvas[sy * 28 + sx];
      }
    }
    return out;
  }

  // ======================================================================= 3. the page
  const PREDICT_EVERY_MS = 120;  // while the pen moves; always once more when it lifts

  function setup(root, data) {
    const network = loadNetwork(data);
    const pad = root.querySelector(".md-pad");
    const ctx = pad.getContext("2d", { willReadFrequently: true });
    const view = root.querySelector(".md-input");
    const viewCtx = view.getContext("2d");
    const bars = root.querySelector(".md-bars");
    const answer = root.querySelector(".md-answer");
    const timing = root.querySelector(".md-timing");

    // Black ink on white paper, like a pen on a sheet; preprocessing inverts it to MNIST's white
    // on black, as predict does for a scan. The pen is a thick marker: a twelfth of the pad, so a
    // digit drawn over most of the pad's height ends up with MNIST's strokes, an eighth to a
    // tenth of its height once fitted into 20 pixels.
    function clear() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, pad.width, pad.height);
      ctx.fillStyle = "#000";
      show(null);
    }
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = pad.width / 12;
    ctx.strokeStyle = ctx.fillStyle = "#000";

    const rows = [];
    for (let d = 0; d < 10; d++) {
      const row = document.createElement("div");
      row.className = "md-bar";
      row.innerHTML = '<span class="md-digit">' + d + '</span>' +
        '<span class="md-track"><span class="md-fill"></span></span><span class="md-prob"></span>';
      bars.appendChild(row);
      rows.push(row);
    }

    function show(result) {
      const probs = result ? result.probs : new Float32Array(10);
      const best = result ? probs.indexOf(Math.max.apply(null, probs)) : -1;
      rows.forEach(function (row, d) {
        row.querySelector(".md-fill").style.width = (100 * probs[d]).toFixed(1) + "%";
        row.querySelector(".md-prob").textContent = result ? (100 * probs[d]).toFixed(1) + "%" : "";
        row.classList.toggle("md-best", d === best);
      });
      const image = viewCtx.createImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = result ? result.pixels[p] : 0;
        image.data.set([v, v, v, 255], 4 * p);
      }
      viewCtx.putImageData(image, 0, 0);
      answer.dataset.digit = best;
      answer.textContent = result ? "The network reads a " + best + " (" + (100 * probs[best]).toFixed(1) + "%)."
                                  : "Draw a digit in the box.";
      if (result) {
        timing.textContent = "This prediction took " + result.ms.toFixed(1) +
          " ms in your browser (preprocessing included).";
      }
    }

    function run() {
      const start = performance.now();
      const pixels = preprocess(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
      if (pixels === null) { show(null); return; }
      const probs = predict(network, pixels);
      show({ pixels: pixels, probs: probs, ms: performance.now() - start });
    }

    // Drawing: pointer events cover mouse, touch and pen alike.
    let last = null, lastRun = 0, pending = false;
    function point(event) {
      // The pad is shown smaller than its 280 x 280 pixels, inside a border.
      const box = pad.getBoundingClientRect();
      return [(event.clientX - box.left - pad.clientLeft) * pad.width / pad.clientWidth,
              (event.clientY - box.top - pad.clientTop) * pad.height / pad.clientHeight];
    }
    function throttled() {
      if (pending || performance.now() - lastRun < PREDICT_EVERY_MS) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; lastRun = performance.now(); run(); });
    }
    pad.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      last = point(event);
      ctx.beginPath();
      ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);  // a dot, for a tap
      ctx.fill();
    });
    pad.addEventListener("pointermove", function (event) {
      if (last === null) return;
      // The browser may merge several moves into one event: draw through all of them.
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const e of (events.length ? events : [event])) {
        const p = point(e);
        ctx.beginPath();
        ctx.moveTo(last[0], last[1]);
        ctx.lineTo(p[0], p[1]);
        ctx.stroke();
        last = p;
      }
      throttled();
    });
    function lift() {
      if (last === null) return;
      last = null;
      run();
    }
    pad.addEventListener("pointerup", lift);
    pad.addEventListener("pointercancel", lift);
    root.querySelector(".md-clear").addEventListener("click", clear);

    // Examples: the first MNIST test image of each digit, drawn on the pad as black on white
    // (smoothly enlarged), so they go through the same preprocessing as a drawing.
    const examples = fromBase64(data.examples.pixels);
    const strip = root.querySelector(".md-examples");
    data.examples.labels.forEach(function (label, n) {
      const digit = new ImageData(28, 28);
      for (let p = 0; p < 784; p++) {
        const v = 255 - examples[n * 784 + p];
        digit.data.set([v, v, v, 255], 4 * p);
      }
      const thumb = document.createElement("canvas");
      thumb.width = thumb.height = 28;
      thumb.getContext("2d").putImageData(digit, 0, 0);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "md-example";
      button.title = "MNIST test image " + data.examples.indices[n] + " (a " + label + ")";
      button.setAttribute("aria-label", button.title);
      button.appendChild(thumb);
      button.addEventListener("click", function () {
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, pad.width, pad.height);
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(thumb, 0, 0, pad.width, pad.height);
        ctx.fillStyle = "#000";
        run();
      });
      strip.appendChild(button);
    });

    // The figures the export measured, and this browser's own speed.
    const meta = data.meta;
    const figures = {
      agreement: (100 * meta.same_digit_as_keras).toFixed(2) + "%",
      test_images: meta.test_images.toLocaleString("en"),
      max_gap: meta.max_probability_gap.toFixed(3),
      accuracy: (100 * meta.int8_accuracy).toFixed(2) + "%",
      keras_accuracy: (100 * meta.keras_accuracy).toFixed(2) + "%",
      file_kb: Math.round(meta.file_bytes / 1000) + " kB",
      params: meta.params.toLocaleString("en"),
      speed: speed(network, examples) + " ms",
    };
    document.querySelectorAll("[data-md-figure]").forEach(function (el) {
      el.textContent = figures[el.dataset.mdFigure];
    });

    clear();
    return { network: network, run: run, clear: clear };
  }

  // Median time of one prediction (the network only) over a few runs on the example digits.
  function speed(network, examples) {
    const times = [];
    for (let n = 0; n < 10; n++) {
      const start = performance.now();
      predict(network, examples.subarray(n * 784, (n + 1) * 784));
      times.push(performance.now() - start);
    }
    return median(times).toFixed(1);
  }

  // Once the whole page is parsed: the figures are written further down than this script.
  function start() {
    const data = window.MNIST_CNN;
    const root = document.getElementById("mnist-draw");
    if (!data || !root) {
      if (root) root.textContent = "The network's weights (mnist_cnn_weights.js) did not load.";
      return;
    }
    const page = setup(root, data);
    window.mnistDraw = {
      // Probabilities (Float32Array of 10) for 784 grey levels, white ink on black.
      predict: function (pixels) { return predict(page.network, pixels); },
      // The 28 x 28 input (Uint8Array of 784) for an RGBA image, or null for a blank one.
      preprocess: preprocess,
      // The predict function of another exported network (the tests run a small one).
      network: function (other) {
        const layers = loadNetwork(other);
        return function (pixels) { return predict(layers, pixels); };
      },
      page: page,
      meta: data.meta,
    };
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
