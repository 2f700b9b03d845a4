// Where the Tensors allocated on a thread take their storage: while a StorageSource::Scope is
// alive on the thread, from that source (an engine session's pool or arena), else from the heap
// (core/aligned_storage.h).
#pragma once

#include <cstddef>
#include <memory>

namespace cpuinfer {

class StorageSource {
 public:
  virtual ~StorageSource() = default;
  // 64-byte-aligned storage of at least `bytes` (> 0), rounded up to a multiple of 64.
  virtual std::shared_ptr<std::byte[]> take(std::size_t bytes) = 0;

  // The source of the calling thread's current scope, or nullptr.
  static StorageSource* current();
  // The heap (core/aligned_storage.h): what Tensors use outside any scope, and what a Scope over
  // it gives temporaries that must stay out of an engine session's memory plan.
  static StorageSource& heap();
  class Scope {
   public:
    explicit Scope(StorageSource& source);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StorageSource* previous_;
  };
};

}  // namespace cpuinfer
