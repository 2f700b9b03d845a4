// Signal processing: DFT (forward or inverse, one-sided, zero-padded or cut to dft_length), STFT
// (windowed frames, each transformed) and MelWeightMatrix (triangular mel filters, as ONNX's
// reference computes them). Transforms are direct sums over a table of twiddle factors, in double
// precision; signals are real ([..., 1]) or complex ([..., 2]) in the last dimension.
#include <cmath>
#include <complex>
#include <numbers>
#include <optional>

#include "engine/kernels/kernel_util.h"
#include "engine/onnx/tensor_proto.h"

namespace cpuinfer::engine {

namespace {

// X[k] = sum over n of x[n] e^(∓2πi kn/L), k < bins, x zero beyond `count` samples; the inverse
// divides by L.
class Transform {
 public:
  Transform(std::int64_t length, bool inverse) : length_(length), inverse_(inverse) {
    twiddles_.reserve(static_cast<std::size_t>(length));
    for (std::int64_t j = 0; j < length; ++j) {
      const double angle = 2 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(length);
      twiddles_.emplace_back(std::cos(angle), inverse ? std::sin(angle) : -std::sin(angle));
    }
  }
  void operator()(const std::vector<std::complex<double>>& x, std::int64_t bins, std::complex<double>* out) const {
    const auto count = std::min<std::int64_t>(static_cast<std::int64_t>(x.size()), length_);
    for (std::int64_t k = 0; k < bins; ++k) {
      std::complex<double> sum = 0;
      for (std::int64_t n = 0; n < count; ++n) sum += x[static_cast<std::size_t>(n)] * twiddles_[static_cast<std::size_t>((k * n) % length_)];
      out[k] = inverse_ ? sum / static_cast<double>(length_) : sum;
    }
  }

 private:
  std::int64_t length_;
  bool inverse_;
  std::vector<std::complex<double>> twiddles_;
};

std::int64_t scalar_int(const NodeInfo& info, const Tensor& t, const char* what) {
  const auto v = info.ints(t, what);
  if (v.size() != 1) info.fail("{} must be one value, got shape {}", what, shape_string(t.shape()));
  return v[0];
}

std::int64_t components(const NodeInfo& info, const Tensor& x, const char* what) {
  const std::int64_t c = x.rank() ? x.dim(x.rank() - 1) : 0;
  if (c != 1 && c != 2) info.fail("{} of shape {} must end in 1 (real) or 2 (complex)", what, shape_string(x.shape()));
  return c;
}

std::unique_ptr<Kernel> make_dft(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), axis_attr = node.get_int("axis", 1), inverse = node.get_int("inverse", 0) != 0,
                               onesided = node.get_int("onesided", 0) != 0](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const std::int64_t c = components(info, x, "input");
    if (x.rank() < 3) info.fail("input of shape {} has no signal dimension", shape_string(x.shape()));
    const auto axis = static_cast<std::size_t>(info.axis(axis_attr, x.rank() - 1));
    if (axis == 0) info.fail("axis 0 is the batch dimension");
    const std::int64_t n = x.dim(axis);
    const Tensor* length_input = info.optional_input(inputs, 1);
    const std::int64_t length = length_input ? scalar_int(info, *length_input, "dft_length") : n;
    if (length < 1) info.fail("dft_length {} is not positive", length);
    const std::int64_t bins = onesided ? length / 2 + 1 : length;
    Shape out_shape = x.shape();
    out_shape[axis] = bins;
    out_shape.back() = 2;
    Tensor y = allocate_checked(x.dtype(), out_shape, info);
    const std::int64_t outer = product(x.shape(), 0, axis), inner = product(x.shape(), axis + 1, x.rank() - 1);
    const Transform transform(length, inverse);
    visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      T* out = y.values<T>().data();
      std::vector<std::complex<double>> signal(static_cast<std::size_t>(n)), spectrum(static_cast<std::size_t>(bins));
      for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t i = 0; i < inner; ++i) {
          for (std::int64_t k = 0; k < n; ++k) {
            const T* v = in + ((o * n + k) * inner + i) * c;
            signal[static_cast<std::size_t>(k)] = {static_cast<double>(v[0]), c == 2 ? static_cast<double>(v[1]) : 0.0};
          }
          transform(signal, bins, spectrum.data());
          for (std::int64_t k = 0; k < bins; ++k) {
            T* v = out + ((o * bins + k) * inner + i) * 2;
            v[0] = static_cast<T>(spectrum[static_cast<std::size_t>(k)].real());
            v[1] = static_cast<T>(spectrum[static_cast<std::size_t>(k)].imag());
          }
        }
    });
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_stft(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), onesided = node.get_int("onesided", 1) != 0](Inputs inputs) {
    const Tensor& x = info.input(inputs, 0);
    const std::int64_t c = components(info, x, "signal");
    if (x.rank() != 3) info.fail("signal of shape {} is not [batch, signal_length, 1 or 2]", shape_string(x.shape()));
    const std::int64_t step = scalar_int(info, info.input(inputs, 1), "frame_step");
    const Tensor* window = info.optional_input(inputs, 2);
    const Tensor* length_input = info.optional_input(inputs, 3);
    if (!window && !length_input) info.fail("needs a window or a frame_length");
    if (window && (window->rank() != 1 || window->dtype() != x.dtype()))
      info.fail("window must be a 1-D {} tensor, got {} {}", dtype_name(x.dtype()), dtype_name(window->dtype()), shape_string(window->shape()));
    const std::int64_t length = length_input ? scalar_int(info, *length_input, "frame_length") : window->dim(0);
    if (window && window->dim(0) != length) info.fail("window has {} values, frame_length is {}", window->dim(0), length);
    const std::int64_t signal_length = x.dim(1);
    if (step < 1 || length < 1 || length > signal_length)
      info.fail("frame_step {} and frame_length {} do not frame a signal of {}", step, length, signal_length);
    const std::int64_t frames = (signal_length - length) / step + 1, bins = onesided ? length / 2 + 1 : length;
    Tensor y = allocate_checked(x.dtype(), {x.dim(0), frames, bins, 2}, info);
    const Transform transform(length, false);
    visit_dtype<FloatTypes>(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* in = x.values<T>().data();
      const T* w = window ? window->values<T>().data() : nullptr;
      T* out = y.values<T>().data();
      std::vector<std::complex<double>> frame(static_cast<std::size_t>(length)), spectrum(static_cast<std::size_t>(bins));
      for (std::int64_t b = 0; b < x.dim(0); ++b)
        for (std::int64_t f = 0; f < frames; ++f) {
          for (std::int64_t k = 0; k < length; ++k) {
            const T* v = in + (b * signal_length + f * step + k) * c;
            const double scale = w ? static_cast<double>(w[k]) : 1.0;
            frame[static_cast<std::size_t>(k)] = {scale * static_cast<double>(v[0]), c == 2 ? scale * static_cast<double>(v[1]) : 0.0};
          }
          transform(frame, bins, spectrum.data());
          T* o = out + ((b * frames + f) * bins) * 2;
          for (std::int64_t k = 0; k < bins; ++k) {
            o[2 * k] = static_cast<T>(spectrum[static_cast<std::size_t>(k)].real());
            o[2 * k + 1] = static_cast<T>(spectrum[static_cast<std::size_t>(k)].imag());
          }
        }
    });
    return one(std::move(y));
  });
}

std::unique_ptr<Kernel> make_mel_weight_matrix(const Node& node, std::int64_t) {
  NodeInfo info(node);
  const std::optional<DType> out_type = dtype_from_onnx(static_cast<int>(node.get_int("output_datatype", 1)));
  if (!out_type) info.unsupported("output_datatype {}", node.get_int("output_datatype", 1));
  return make_function_kernel([info, out_type = *out_type](Inputs inputs) {
    const std::int64_t mels = scalar_int(info, info.input(inputs, 0), "num_mel_bins");
    const std::int64_t dft_length = scalar_int(info, info.input(inputs, 1), "dft_length");
    const std::int64_t sample_rate = scalar_int(info, info.input(inputs, 2), "sample_rate");
    const double lower = cast(info.input(inputs, 3), DType::f64).values<double>()[0];
    const double upper = cast(info.input(inputs, 4), DType::f64).values<double>()[0];
    if (mels < 1 || dft_length < 1 || sample_rate < 1 || !(lower >= 0 && lower < upper))
      info.fail("num_mel_bins {}, dft_length {}, sample_rate {} and edges {} to {} Hz do not make mel filters", mels, dft_length,
                sample_rate, lower, upper);
    const std::int64_t bins = dft_length / 2 + 1;
    // The filters' edges: mel_bins + 2 points evenly spaced in mel, as spectrogram bin numbers.
    auto mel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
    const double low_mel = mel(lower), step = (mel(upper) - low_mel) / static_cast<double>(mels + 2);
    std::vector<std::int64_t> edge(static_cast<std::size_t>(mels + 2));
    for (std::size_t i = 0; i < edge.size(); ++i) {
      const double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * step + low_mel) / 2595) - 1);
      edge[i] = static_cast<std::int64_t>(std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
      if (edge[i] < 0 || edge[i] >= bins) info.fail("the mel filters reach past the {} spectrogram bins (upper edge {} Hz)", bins, upper);
    }
    Tensor w(DType::f64, {bins, mels});
    double* out = w.values<double>().data();
    for (std::int64_t m = 0; m < mels; ++m) {
      const std::int64_t left = edge[static_cast<std::size_t>(m)], centre = edge[static_cast<std::size_t>(m + 1)],
                         right = edge[static_cast<std::size_t>(m + 2)];
      if (centre == left) out[centre * mels + m] = 1;
      for (std::int64_t j = left; centre > left && j <= centre; ++j)
        out[j * mels + m] = static_cast<double>(j - left) / static_cast<double>(centre - left);
      for (std::int64_t j = centre; j < right; ++j) out[j * mels + m] = static_cast<double>(right - j) / static_cast<double>(right - centre);
    }
    return one(cast(w, out_type));
  });
}

}  // namespace

void add_spectral_kernels(KernelTable& t) {
  t.add("DFT", make_dft, {17, kNewestOpset}, dtypes(FloatTypes{}));
  t.add("STFT", make_stft, {17, kNewestOpset}, dtypes(FloatTypes{}));
  t.add("MelWeightMatrix", make_mel_weight_matrix, {17, kNewestOpset});
}

}  // namespace cpuinfer::engine
