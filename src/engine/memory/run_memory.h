// The storage of a session's runs, planned per binding (the shapes of the run's inputs).
//
// The first run of a binding is recorded, as ONNX Runtime records its memory patterns: every block
// a kernel takes, the step (node) that took it, and the step after which it was released. From
// that trace plan_arena (memory/arena_plan.h) places every block that does not outlive the run in
// one arena. Later runs of the binding take their blocks, in the same order, from their places in
// the arena: no allocation, no page fault.
//
// In place: a step's first block is the block of an input the step's kernel may overwrite
// (Kernel::may_overwrite), when that input dies at the step, no other value shares its block, and
// it has as many bytes as the block asked for (an operand the kernel broadcasts never has). The rule is the same in recorded and planned runs, so traces stay aligned, and
// it also lowers the recorded run's peak.
//
// A recorded run's intermediates stay in the pool until a planned run takes the arena, so that runs
// of new bindings in a row (each text a new length) reuse them rather than fault in fresh pages.
//
// Blocks that outlive the run (the results) never come from the arena, so a result the caller holds
// is never overwritten by the next run. Shapes that depend on data (packed tokens: the same input
// shapes, fewer real tokens) make smaller blocks: a block no larger than the trace's, taken at the
// trace's step, takes the trace's place. A run that strays from its trace (a larger block, or one
// at another step) takes the rest of its blocks from the StoragePool, and its binding is recorded
// again on its next run, each block as large as in either trace when the two take the same blocks
// at the same steps: a binding's plan grows to its largest data-dependent sizes.
#pragma once

#include <memory>
#include <vector>

#include "core/storage_pool.h"
#include "core/tensor.h"
#include "engine/kernels/plan_cache.h"
#include "engine/memory/arena_plan.h"

namespace cpuinfer::engine {

class RunMemory final : public StorageSource {
 public:
  struct Stats {
    StoragePool::Stats pool;          // blocks that outlive runs, recorded runs, strays
    std::uint64_t recorded_runs = 0;  // runs that made a plan
    std::uint64_t planned_runs = 0;   // runs served from a plan to their end
    std::uint64_t arena_allocations = 0;
    std::size_t arena_bytes = 0;      // the arena's size now
    std::size_t last_plan_bytes = 0;  // the last planned run's arena
    std::size_t last_in_place = 0;    // outputs the last run wrote over an input
  };

  explicit RunMemory(bool poison);
  ~RunMemory() override;

  void begin_run(const std::vector<Shape>& binding);
  // Before step `step` runs: the inputs its kernel may overwrite with its first output, each dying
  // at this step with no other value sharing its block.
  void begin_step(std::size_t step, std::vector<const Tensor*> overwritable);
  // The block this step's first allocation took over an input, or null: the step's first output
  // must be in it (the in-place rule; Session checks it after each step).
  const std::byte* handed_in_place() const { return handed_; }
  // After the run, before its results leave the session: makes the plan of a recorded binding.
  void end_run(std::vector<Tensor>& results);

  std::shared_ptr<std::byte[]> take(std::size_t exact) override;
  Stats stats() const;

 private:
  struct Recording;
  struct Plan {
    std::vector<BlockUse> blocks;  // the trace's blocks in order
    ArenaPlan arena;
  };

  StoragePool pool_;
  bool poison_;
  PlanCache<std::vector<Shape>, Plan> plans_{16};
  std::shared_ptr<Recording> recording_;  // while a binding's first run is recorded
  bool pool_holds_recording_ = false;     // the pool holds a recorded run's intermediates
  std::shared_ptr<Plan> serving_;         // while a run follows its plan
  std::shared_ptr<Plan> strayed_;         // the plan a run strayed from, until its binding is recorded again
  std::vector<Shape> strayed_binding_;
  std::size_t step_ = 0;                  // the step running
  std::vector<Shape> binding_;
  std::size_t next_ = 0;                  // the next block of the plan
  std::vector<const Tensor*> overwritable_;  // this step's, until its first block
  const std::byte* handed_ = nullptr;        // this step's block taken over an input
  std::size_t in_place_ = 0;              // this run's
  std::shared_ptr<std::byte[]> arena_;
  Stats stats_;
};

}  // namespace cpuinfer::engine
