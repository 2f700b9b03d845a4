#include "serve/http/request_body.h"

#include <algorithm>
#include <cstring>

#include "core/aligned_storage.h"

namespace cpuinfer::serve {

RequestBody::RequestBody(std::string_view bytes, std::size_t aligned_at) {
  reserve(bytes.size(), aligned_at);
  append(bytes.data(), bytes.size());
}

void RequestBody::reserve(std::size_t capacity, std::size_t aligned_at) {
  lead_ = (kStorageAlignment - aligned_at % kStorageAlignment) % kStorageAlignment;
  capacity_ = capacity;
  size_ = 0;
  block_ = allocate_storage(std::max<std::size_t>(lead_ + capacity_, 1));
}

void RequestBody::append(const void* data, std::size_t n) {
  if (n == 0) return;
  if (!block_) reserve(0, 0);
  if (size_ + n > capacity_) {
    const std::size_t capacity = std::max(size_ + n, 2 * capacity_);
    std::shared_ptr<std::byte[]> grown = allocate_storage(lead_ + capacity);
    if (size_) std::memcpy(grown.get() + lead_, block_.get() + lead_, size_);
    block_ = std::move(grown);
    capacity_ = capacity;
  }
  std::memcpy(block_.get() + lead_ + size_, data, n);
  size_ += n;
}

}  // namespace cpuinfer::serve
