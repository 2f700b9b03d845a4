// Classifies a JPEG with an ImageNet model: decode, resize to 224x224 (nearest), normalize, run, top 5.
#include <cpuinfer/cpuinfer.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <vector>

int main(int argc, char** argv) try {
  if (argc != 3) return std::fprintf(stderr, "usage: classify MODEL.onnx IMAGE.jpg\n"), 2;
  std::ifstream file(argv[2], std::ios::binary);
  std::vector<unsigned char> jpeg{std::istreambuf_iterator<char>(file), {}};
  tjhandle tj = tjInitDecompress();
  int w = 0, h = 0, sub = 0, space = 0;
  if (tjDecompressHeader3(tj, jpeg.data(), jpeg.size(), &w, &h, &sub, &space) != 0) throw cpuinfer::Error(std::string(argv[2]) + ": not a JPEG");
  std::vector<unsigned char> rgb(static_cast<std::size_t>(w) * h * 3);
  tjDecompress2(tj, jpeg.data(), jpeg.size(), rgb.data(), w, 0, h, TJPF_RGB, 0);
  tjDestroy(tj);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  std::vector<float> x(3 * 224 * 224);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 224; ++y)
      for (int i = 0; i < 224; ++i)
        x[(c * 224 + y) * 224 + i] = (rgb[((y * h / 224) * w + i * w / 224) * 3 + c] / 255.0f - mean[c]) / stdev[c];
  cpuinfer::Session session{cpuinfer::Model(argv[1])};
  const cpuinfer::Output out = session.run({{cpuinfer::ElementType::float32, {1, 3, 224, 224}, x.data()}})[0];
  const auto scores = out.values<float>();
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  for (int k = 0; k < 5; ++k) std::printf("class %d: %.3f\n", order[k], scores[order[k]]);
} catch (const cpuinfer::Error& e) {
  return std::fprintf(stderr, "classify: %s\n", e.what()), 1;
}
