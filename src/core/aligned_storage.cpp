// aligned_storage: operator new below 64 KiB, anonymous mappings above.
#include "core/aligned_storage.h"

#include <sys/mman.h>

#include <new>

namespace cpuinfer {

namespace {
#if defined(__SANITIZE_ADDRESS__)
#define CPUINFER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPUINFER_ASAN 1
#endif
#endif
#ifdef CPUINFER_ASAN
// Under AddressSanitizer every block comes from operator new, where it checks every access.
constexpr std::size_t kMappedFrom = static_cast<std::size_t>(-1);
#else
constexpr std::size_t kMappedFrom = std::size_t{1} << 16;
#endif
}  // namespace

std::byte* allocate_block(std::size_t bytes) {
  if (bytes < kMappedFrom) return new (std::align_val_t{kStorageAlignment}) std::byte[bytes];
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

void free_block(std::byte* block, std::size_t bytes) noexcept {
  if (bytes < kMappedFrom) ::operator delete[](block, std::align_val_t{kStorageAlignment});
  else munmap(block, bytes);
}

std::shared_ptr<std::byte[]> allocate_storage(std::size_t bytes) {
  return std::shared_ptr<std::byte[]>(allocate_block(bytes), [bytes](std::byte* p) { free_block(p, bytes); });
}

}  // namespace cpuinfer
