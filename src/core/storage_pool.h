// Storage blocks reused across an engine session's runs. While the pool is the thread's storage
// source (core/storage_source.h), every Tensor allocated on that thread takes its storage from it;
// when the tensor's last reference goes, the block returns to the pool instead of the heap. Runs
// therefore make no heap allocation for blocks an earlier run returned and touch no fresh pages
// (fresh pages cost a page fault each: at ResNet-101 batch 8 that was about 8% of the run).
//
// A block serves a request of at most its size and at least half of it; a new block above 64 KiB
// is made up to 12.5% larger (a size class), so that slightly larger requests reuse it. trim() frees the blocks
// no request used since the previous trim(), so a pool holds what one run needs, not the union of
// every shape it has seen. Blocks may return from any thread; a pool may die before its blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "core/storage_source.h"

namespace cpuinfer {

class StoragePool final : public StorageSource {
 public:
  struct Stats {
    std::uint64_t heap_allocations = 0;  // blocks taken from the heap
    std::uint64_t reuses = 0;            // requests served by a returned block
    std::size_t free_bytes = 0;          // in returned blocks, now
  };

  // poison: every block handed out is first filled with 0xFF bytes, a NaN as float32 and float64,
  // so that an element a kernel fails to write shows (for tests).
  explicit StoragePool(bool poison = false);
  ~StoragePool();
  StoragePool(const StoragePool&) = delete;
  StoragePool& operator=(const StoragePool&) = delete;

  // 64-byte-aligned storage of at least `bytes`.
  std::shared_ptr<std::byte[]> take(std::size_t bytes) override;
  void trim();
  // Frees every block returned to the pool.
  void clear();
  Stats stats() const;

 private:
  struct Shared;  // the free blocks and counters, kept alive by every block out
  std::shared_ptr<Shared> shared_;
  bool poison_;
};

}  // namespace cpuinfer
