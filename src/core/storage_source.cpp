// StorageSource: the thread's current source.
#include "core/storage_source.h"

#include "core/aligned_storage.h"

namespace cpuinfer {

namespace {

thread_local StorageSource* current_source = nullptr;

class HeapSource final : public StorageSource {
 public:
  std::shared_ptr<std::byte[]> take(std::size_t bytes) override {
    return allocate_storage((bytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment);
  }
};

}  // namespace

StorageSource* StorageSource::current() { return current_source; }

StorageSource& StorageSource::heap() {
  static HeapSource source;
  return source;
}

StorageSource::Scope::Scope(StorageSource& source) : previous_(current_source) { current_source = &source; }
StorageSource::Scope::~Scope() { current_source = previous_; }

}  // namespace cpuinfer
