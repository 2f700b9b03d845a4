// A kernel's per-shape plans (oneDNN primitives and the shapes they were made for), least recently
// used first out: a session serving batches 1, 4 and 8 and many sequence lengths keeps the plans
// it uses and drops the one it has not needed for longest, instead of clearing everything.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <utility>

namespace cpuinfer::engine {

template <typename Key, typename Plan> class PlanCache {
 public:
  explicit PlanCache(std::size_t capacity = 16) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The plan for `key`, made by `make()` (which may throw; nothing is cached then) when absent.
  template <typename Make> Plan& get(const Key& key, Make&& make) {
    if (Plan* plan = find(key)) return *plan;
    return put(key, make());
  }

  // The plan for `key`, now the most recently used, or nullptr.
  Plan* find(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  // Adds (or replaces) the plan for `key`, evicting the least recently used beyond the capacity.
  Plan& put(const Key& key, Plan plan) {
    erase(key);
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, std::move(plan));
    index_.emplace(key, order_.begin());
    return order_.front().second;
  }

  void erase(const Key& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }

  std::size_t size() const { return index_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::pair<Key, Plan>> order_;  // most recently used first
  std::map<Key, typename std::list<std::pair<Key, Plan>>::iterator> index_;
};

}  // namespace cpuinfer::engine
