// StorageSource: the thread's current source.
#include "core/storage_source.h"

namespace cpuinfer {

namespace {
thread_local StorageSource* current_source = nullptr;
}  // namespace

StorageSource* StorageSource::current() { return current_source; }

StorageSource::Scope::Scope(StorageSource& source) : previous_(current_source) { current_source = &source; }
StorageSource::Scope::~Scope() { current_source = previous_; }

}  // namespace cpuinfer
