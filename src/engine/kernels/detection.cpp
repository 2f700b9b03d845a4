// Detection post-processing: NonMaxSuppression. Per batch and class, boxes whose score is above
// score_threshold are taken from the highest score down (ties: the lower index first) unless they
// overlap an already selected box by more than iou_threshold, up to max_output_boxes_per_class.
#include <algorithm>
#include <array>
#include <numeric>

#include "engine/kernels/kernel_util.h"

namespace cpuinfer::engine {

namespace {

using Box = std::array<float, 4>;  // y1, x1, y2, x2 with y1 <= y2, x1 <= x2

Box corners(const float* b, bool center) {
  if (center) return {b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2};
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

float iou(const Box& a, const Box& b) {
  const float h = std::min(a[2], b[2]) - std::max(a[0], b[0]), w = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (h <= 0 || w <= 0) return 0;
  const float inter = h * w;
  const float uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

std::unique_ptr<Kernel> make_nms(const Node& node, std::int64_t) {
  return make_function_kernel([info = NodeInfo(node), center = node.get_int("center_point_box", 0) != 0](Inputs inputs) {
    const Tensor& boxes = info.input(inputs, 0);
    const Tensor& scores = info.input(inputs, 1);
    info.expect_dtype(boxes, DType::f32, "boxes");
    info.expect_dtype(scores, DType::f32, "scores");
    if (boxes.rank() != 3 || boxes.dim(2) != 4) info.fail("boxes must be [batches, boxes, 4], got {}", shape_string(boxes.shape()));
    if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1))
      info.fail("scores {} do not match boxes {}", shape_string(scores.shape()), shape_string(boxes.shape()));
    std::int64_t max_out = 0;
    float iou_threshold = 0, score_threshold = 0;
    bool has_score_threshold = false;
    if (const Tensor* t = info.optional_input(inputs, 2); t && t->numel()) max_out = info.ints(*t, "max_output_boxes_per_class").at(0);
    if (const Tensor* t = info.optional_input(inputs, 3); t && t->numel()) iou_threshold = t->values<float>()[0];
    if (const Tensor* t = info.optional_input(inputs, 4); t && t->numel()) {
      score_threshold = t->values<float>()[0];
      has_score_threshold = true;
    }
    const std::int64_t batches = boxes.dim(0), count = boxes.dim(1), classes = scores.dim(1);
    std::vector<std::int64_t> selected;  // triples
    std::vector<std::int64_t> order(static_cast<std::size_t>(count));
    for (std::int64_t b = 0; b < batches; ++b) {
      std::vector<Box> all;
      for (std::int64_t i = 0; i < count; ++i) all.push_back(corners(boxes.values<float>().data() + (b * count + i) * 4, center));
      for (std::int64_t c = 0; c < classes; ++c) {
        const float* s = scores.values<float>().data() + (b * classes + c) * count;
        std::iota(order.begin(), order.end(), std::int64_t{0});
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t p, std::int64_t q) { return s[p] > s[q]; });
        std::vector<std::int64_t> kept;
        for (std::int64_t i : order) {
          if (static_cast<std::int64_t>(kept.size()) >= max_out) break;
          if (has_score_threshold && !(s[i] > score_threshold)) break;
          if (std::any_of(kept.begin(), kept.end(), [&](std::int64_t k) {
                return iou(all[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(k)]) > iou_threshold;
              }))
            continue;
          kept.push_back(i);
          selected.insert(selected.end(), {b, c, i});
        }
      }
    }
    Tensor y(DType::i64, {static_cast<std::int64_t>(selected.size() / 3), 3});
    std::copy(selected.begin(), selected.end(), y.values<std::int64_t>().begin());
    return one(std::move(y));
  });
}

}  // namespace

void add_detection_kernels(KernelTable& t) { t.add("NonMaxSuppression", make_nms); }

}  // namespace cpuinfer::engine
