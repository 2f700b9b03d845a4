// Free blocks by size in a multimap, each with the trim generation it was last used in.
#include "core/storage_pool.h"

#include <cstring>

#include "core/aligned_storage.h"

namespace cpuinfer {

namespace {
}  // namespace

struct StoragePool::Shared {
  struct Block {
    std::byte* data;
    std::uint64_t generation;
  };
  std::mutex mutex;
  std::multimap<std::size_t, Block> free;  // by size
  std::uint64_t generation = 0;
  Stats stats;

  ~Shared() {
    for (auto& [size, block] : free) free_block(block.data, size);
  }
};

StoragePool::StoragePool(bool poison) : shared_(std::make_shared<Shared>()), poison_(poison) {}
StoragePool::~StoragePool() = default;

namespace {
// A new block's size: above 64 KiB, rounded up to a multiple of an eighth of its power of two, so
// that a block made for one sequence length also serves the next few longer ones. At most 12.5%
// more memory.
std::size_t size_class(std::size_t bytes) {
  constexpr std::size_t kSmall = std::size_t{1} << 16;
  if (bytes <= kSmall) return bytes;
  std::size_t power = kSmall;
  while (power * 2 <= bytes) power *= 2;
  const std::size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}
}  // namespace

std::shared_ptr<std::byte[]> StoragePool::take(std::size_t bytes) {
  bytes = std::max<std::size_t>((bytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment, kStorageAlignment);
  std::byte* data = nullptr;
  std::size_t size = size_class(bytes);
  {
    std::lock_guard lock(shared_->mutex);
    auto it = shared_->free.lower_bound(bytes);
    if (it != shared_->free.end() && it->first / 2 <= bytes) {
      data = it->second.data;
      size = it->first;
      shared_->stats.free_bytes -= size;
      shared_->free.erase(it);
      ++shared_->stats.reuses;
    } else {
      ++shared_->stats.heap_allocations;
    }
  }
  if (!data) data = allocate_block(size);
  if (poison_) std::memset(data, 0xFF, size);
  // The block goes back to the pool while the pool's state lives, else to the heap.
  std::weak_ptr<Shared> owner = shared_;
  return std::shared_ptr<std::byte[]>(data, [owner, size](std::byte* p) {
    if (auto s = owner.lock()) {
      std::lock_guard lock(s->mutex);
      s->free.emplace(size, Shared::Block{p, s->generation});
      s->stats.free_bytes += size;
      return;
    }
    free_block(p, size);
  });
}

void StoragePool::trim() {
  std::lock_guard lock(shared_->mutex);
  // Blocks returned during this generation were used by it; older ones were not.
  for (auto it = shared_->free.begin(); it != shared_->free.end();) {
    if (it->second.generation < shared_->generation) {
      shared_->stats.free_bytes -= it->first;
      free_block(it->second.data, it->first);
      it = shared_->free.erase(it);
    } else {
      ++it;
    }
  }
  ++shared_->generation;
}

void StoragePool::clear() {
  std::lock_guard lock(shared_->mutex);
  for (auto& [size, block] : shared_->free) free_block(block.data, size);
  shared_->free.clear();
  shared_->stats.free_bytes = 0;
}

StoragePool::Stats StoragePool::stats() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->stats;
}

}  // namespace cpuinfer
