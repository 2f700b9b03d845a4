// A request's body, held in one 64-byte-aligned block and laid out so that a chosen byte starts on
// a 64-byte boundary. For the binary tensor extension that byte is the first tensor's, just after
// the JSON header (Inference-Header-Content-Length): the server reads the body straight into this
// block, and a binary input that lies on a boundary is used where it lies, not copied.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace cpuinfer::serve {

class RequestBody {
 public:
  RequestBody() = default;
  // A copy of `bytes` with byte `aligned_at` on a boundary (for bodies made by hand).
  explicit RequestBody(std::string_view bytes, std::size_t aligned_at = 0);

  // Drops what is held and makes room for `capacity` bytes, byte `aligned_at` on a boundary.
  void reserve(std::size_t capacity, std::size_t aligned_at);
  // Appends, growing the block (by doubling, the layout kept) past its room.
  void append(const void* data, std::size_t n);

  std::string_view view() const { return {reinterpret_cast<const char*>(block_.get()) + lead_, size_}; }
  std::size_t size() const { return size_; }
  // The block's ownership, for views into the body that must outlive this object.
  const std::shared_ptr<std::byte[]>& block() const { return block_; }

 private:
  std::shared_ptr<std::byte[]> block_;
  std::size_t lead_ = 0;  // unused bytes before the body, so that the chosen byte is aligned
  std::size_t size_ = 0, capacity_ = 0;
};

}  // namespace cpuinfer::serve
