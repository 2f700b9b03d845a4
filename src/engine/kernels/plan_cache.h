// A kernel's per-shape plans (oneDNN primitives and the shapes they were made for), least recently
// used first out: a session serving batches 1, 4 and 8 and many sequence lengths keeps the plans
// it uses and drops the one it has not needed for longest, instead of clearing everything.
//
// Shared by every run of a model, on any thread: the cache locks itself, and hands out shared
// ownership, so a plan another run evicts lives on until the run executing it lets go. A plan is
// made outside the lock (a oneDNN primitive takes about a millisecond to generate); two runs that
// miss at once both make it, and the first one stored is kept.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace cpuinfer::engine {

template <typename Key, typename Plan> class PlanCache {
 public:
  explicit PlanCache(std::size_t capacity = 16) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The plan for `key`, made by `make()` (which may throw; nothing is cached then) when absent.
  template <typename Make> std::shared_ptr<Plan> get(const Key& key, Make&& make) {
    if (std::shared_ptr<Plan> plan = find(key)) return plan;
    auto made = std::make_shared<Plan>(make());
    const std::lock_guard lock(mutex_);
    if (auto it = index_.find(key); it != index_.end()) return it->second->second;  // another run made it first
    return insert(key, std::move(made));
  }

  // The plan for `key`, now the most recently used, or nullptr.
  std::shared_ptr<Plan> find(const Key& key) {
    const std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  // Adds (or replaces) the plan for `key`, evicting the least recently used beyond the capacity.
  std::shared_ptr<Plan> put(const Key& key, std::shared_ptr<Plan> plan) {
    const std::lock_guard lock(mutex_);
    remove(key);
    return insert(key, std::move(plan));
  }

  void erase(const Key& key) {
    const std::lock_guard lock(mutex_);
    remove(key);
  }

  std::size_t size() const {
    const std::lock_guard lock(mutex_);
    return index_.size();
  }

 private:
  using Entry = std::pair<Key, std::shared_ptr<Plan>>;

  std::shared_ptr<Plan> insert(const Key& key, std::shared_ptr<Plan> plan) {
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, std::move(plan));
    index_.emplace(key, order_.begin());
    return order_.front().second;
  }

  void remove(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recently used first
  std::map<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace cpuinfer::engine
