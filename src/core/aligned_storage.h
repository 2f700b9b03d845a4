// Storage blocks for tensors, 64-byte aligned. Blocks of 64 KiB and more are pages mapped for them
// alone, so that freeing one gives its memory back to the system at once: from glibc's heap it
// would not come back once glibc's dynamic mmap threshold has grown (freeing ResNet-101's plain
// weights after packing them made no difference to the process's RSS until this; with a 1 MiB
// threshold, a session that ran batch 1 before batch 8 still held 78 MB more than one that did not).
#pragma once

#include <cstddef>
#include <memory>

namespace cpuinfer {

inline constexpr std::size_t kStorageAlignment = 64;

// Throws std::bad_alloc. `bytes` > 0.
std::byte* allocate_block(std::size_t bytes);
// `bytes` as given to allocate_block.
void free_block(std::byte* block, std::size_t bytes) noexcept;
// A block freed when its last reference goes.
std::shared_ptr<std::byte[]> allocate_storage(std::size_t bytes);

}  // namespace cpuinfer
