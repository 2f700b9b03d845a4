// cv::dnn::Net from the cleaned ONNX bytes; OpenCV's own CPU backend and target. A model that
// parses as ONNX but that OpenCV's importer refuses is unsupported, with OpenCV's first line; an
// error while running a model OpenCV accepted is a failure.
#include "backends/opencv/opencv_backend.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include "backends/opencv/identity_removal.h"
#include "core/error.h"

namespace cpuinfer {

namespace {

// OpenCV's messages start with the source location; keep what it says about the model.
std::string opencv_message(const cv::Exception& e) {
  std::string line = first_line(e.err.empty() ? std::string(e.what()) : e.err);
  const auto start = line.find_first_not_of("> ");  // OpenCV quotes nested errors with "> "
  return start == std::string::npos ? line : line.substr(start);
}

class OpencvBackend final : public Backend {
 public:
  explicit OpencvBackend(const BackendOptions& options) : options_(options) {}

  std::string name() const override { return "opencv"; }
  std::string version() const override { return CV_VERSION; }
  std::string format() const override { return "onnx"; }
  nlohmann::json settings() const override {
    return {{"dnn_backend", "DNN_BACKEND_OPENCV"},
            {"dnn_target", "DNN_TARGET_CPU"},
            {"threads", options_.threads},
            {"identity_nodes_removed", removed_}};
  }

  void load(const std::filesystem::path& model) override {
    const CleanedModel cleaned = remove_identity_nodes(model);  // a broken file fails here
    removed_ = cleaned.removed;
    cv::setNumThreads(options_.threads);
    try {
      net_ = cv::dnn::readNetFromONNX(cleaned.bytes.data(), cleaned.bytes.size());
      net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
      input_names_ = cleaned.inputs;
      output_names_ = net_.getUnconnectedOutLayersNames();
    } catch (const cv::Exception& e) {
      net_ = cv::dnn::Net();
      throw Unsupported(opencv_message(e));
    }
  }

  std::vector<Tensor> run(std::span<const Tensor> inputs) override {
    if (net_.empty()) fail("opencv: run before load");
    if (inputs.size() != input_names_.size())
      fail("opencv: model takes {} inputs, got {}", input_names_.size(), inputs.size());
    try {
      for (std::size_t i = 0; i < inputs.size(); ++i) net_.setInput(to_mat(inputs[i]), input_names_[i]);
      std::vector<cv::Mat> outs;
      net_.forward(outs, output_names_);
      std::vector<Tensor> result;
      for (const cv::Mat& m : outs) result.push_back(from_mat(m));
      return result;
    } catch (const cv::Exception& e) {
      fail("{}", opencv_message(e));
    }
  }

 private:
  // OpenCV blobs are float32 (int64 inputs become float, as OpenCV's importer expects them).
  static cv::Mat to_mat(const Tensor& t) {
    std::vector<int> sizes(t.shape().begin(), t.shape().end());
    if (t.dtype() == DType::f32)
      return cv::Mat(static_cast<int>(sizes.size()), sizes.data(), CV_32F, const_cast<void*>(t.data())).clone();
    cv::Mat m(static_cast<int>(sizes.size()), sizes.data(), CV_32F);
    const auto values = t.values<std::int64_t>();
    for (std::size_t i = 0; i < values.size(); ++i) m.ptr<float>()[i] = static_cast<float>(values[i]);
    return m;
  }

  static Tensor from_mat(const cv::Mat& m) {
    if (m.depth() != CV_32F) fail("opencv: output of depth {} is not float32", m.depth());
    cv::Mat dense = m.isContinuous() ? m : m.clone();
    Shape shape;
    for (int d = 0; d < dense.dims; ++d) shape.push_back(dense.size[d]);
    Tensor t(DType::f32, shape);
    std::memcpy(t.data(), dense.ptr(), t.nbytes());
    return t;
  }

  BackendOptions options_;
  cv::dnn::Net net_;
  std::vector<std::string> input_names_, output_names_;
  std::size_t removed_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_opencv_backend(const BackendOptions& options) {
  return std::make_unique<OpencvBackend>(options);
}

}  // namespace cpuinfer
