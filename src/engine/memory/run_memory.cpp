// RunMemory: recording a binding's first run, serving later runs from the arena.
#include "engine/memory/run_memory.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "core/aligned_storage.h"

namespace cpuinfer::engine {

// The trace of a run being recorded. Blocks are released from their tensors' deleters, which may
// outlive the run: a release after the run is not recorded (the block outlived it).
struct RunMemory::Recording {
  std::mutex mutex;
  bool open = true;
  std::vector<BlockUse> blocks;
  std::size_t step = 0;
};

RunMemory::RunMemory(bool poison) : pool_(poison), poison_(poison) {}
RunMemory::~RunMemory() = default;

void RunMemory::begin_run(const std::vector<Shape>& binding) {
  pool_.trim();  // blocks the previous run did not use go back to the heap
  binding_ = binding;
  next_ = 0;
  in_place_ = 0;
  recording_.reset();
  serving_.reset();
  if (std::shared_ptr<Plan> plan = plans_.find(binding)) {
    serving_ = std::move(plan);
    if (pool_holds_recording_) pool_.clear();  // a recorded run's intermediates: the arena takes their place
    pool_holds_recording_ = false;
    if (!arena_ || stats_.arena_bytes < serving_->arena.bytes) {
      arena_.reset();
      arena_ = allocate_storage(std::max<std::size_t>(serving_->arena.bytes, kStorageAlignment));
      stats_.arena_bytes = serving_->arena.bytes;
      ++stats_.arena_allocations;
    }
    stats_.last_plan_bytes = serving_->arena.bytes;
    return;
  }
  // A recorded run takes its blocks from the pool: the arena is not held meanwhile (its views died
  // with the previous run's intermediates), and is made again for the next planned run.
  arena_.reset();
  stats_.arena_bytes = 0;
  recording_ = std::make_shared<Recording>();
}

void RunMemory::begin_step(std::size_t step, std::vector<const Tensor*> overwritable) {
  overwritable_ = std::move(overwritable);
  handed_ = nullptr;
  step_ = step;
  if (!recording_) return;
  std::lock_guard lock(recording_->mutex);
  recording_->step = step;
}

void RunMemory::end_run(std::vector<Tensor>& results) {
  overwritable_.clear();
  stats_.last_in_place = in_place_;
  if (recording_) {
    std::vector<BlockUse> blocks;
    {
      std::lock_guard lock(recording_->mutex);
      recording_->open = false;
      blocks = recording_->blocks;
    }
    // After a stray: each block as large as in the plan strayed from, where the traces agree.
    if (strayed_ && strayed_binding_ == binding_ && strayed_->blocks.size() == blocks.size() &&
        std::ranges::equal(blocks, strayed_->blocks, [](const BlockUse& a, const BlockUse& b) { return a.first == b.first; }))
      for (std::size_t k = 0; k < blocks.size(); ++k) blocks[k].bytes = std::max(blocks[k].bytes, strayed_->blocks[k].bytes);
    strayed_.reset();
    auto plan = std::make_shared<Plan>();
    plan->blocks = blocks;
    plan->arena = plan_arena(blocks, kStorageAlignment);
    plans_.put(binding_, plan);
    // The recorded intermediates stay in the pool until a planned run takes the arena: a run of
    // another new binding (a new sequence length) reuses them rather than faulting in fresh pages.
    pool_holds_recording_ = true;
    ++stats_.recorded_runs;
    recording_.reset();
  } else if (serving_) {
    ++stats_.planned_runs;
  }
  serving_.reset();
  // Blocks that outlived the recorded run never come from the arena; this holds whatever a kernel does.
  if (!arena_) return;
  const std::byte* begin = arena_.get();
  const std::byte* end = begin + stats_.arena_bytes;
  for (Tensor& t : results) {
    const auto* data = static_cast<const std::byte*>(static_cast<const Tensor&>(t).data());
    if (data < begin || data >= end) continue;
    StorageSource::Scope scope(pool_);
    Tensor copy = Tensor::uninitialized(t.dtype(), t.shape());
    std::memcpy(copy.data(), t.data(), t.nbytes());
    t = std::move(copy);
  }
}

std::shared_ptr<std::byte[]> RunMemory::take(std::size_t exact) {
  if (!overwritable_.empty()) {  // the step's first block: its first output
    const std::vector<const Tensor*> inputs = std::move(overwritable_);
    overwritable_.clear();
    for (const Tensor* t : inputs)
      if (std::max<std::size_t>(t->nbytes(), 1) == exact) {  // as many elements: no broadcasting
        ++in_place_;
        handed_ = t->storage().get();
        return t->storage();
      }
  }
  const std::size_t bytes = (exact + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment;
  if (serving_) {
    const Plan& plan = *serving_;
    const std::size_t k = next_++;
    if (k < plan.blocks.size() && plan.blocks[k].bytes >= bytes && plan.blocks[k].first == step_) {
      if (const auto& offset = plan.arena.offsets[k]) {
        std::byte* data = arena_.get() + *offset;
        if (poison_) std::memset(data, 0xFF, bytes);
        return std::shared_ptr<std::byte[]>(arena_, data);  // keeps the arena alive
      }
      return pool_.take(bytes);
    }
    // A block the trace does not have: the rest of the run from the pool, and a new trace next time.
    strayed_ = serving_;
    strayed_binding_ = binding_;
    plans_.erase(binding_);
    serving_.reset();
    return pool_.take(bytes);
  }
  if (!recording_) return pool_.take(bytes);

  std::shared_ptr<std::byte[]> block = pool_.take(bytes);
  std::size_t index;
  {
    std::lock_guard lock(recording_->mutex);
    index = recording_->blocks.size();
    recording_->blocks.push_back({bytes, recording_->step, kOutlivesRun});
  }
  std::byte* data = block.get();
  std::weak_ptr<Recording> weak = recording_;
  return std::shared_ptr<std::byte[]>(data, [weak, index, block = std::move(block)](std::byte*) mutable {
    if (auto r = weak.lock()) {
      std::lock_guard lock(r->mutex);
      if (r->open) r->blocks[index].last = r->step;
    }
    block.reset();  // back to the pool
  });
}

RunMemory::Stats RunMemory::stats() const {
  Stats s = stats_;
  s.pool = pool_.stats();
  return s;
}

}  // namespace cpuinfer::engine
