// What the machine is (CPU, ISA, cores, memory, OS) and how much memory this process has used:
// recorded with every set of results, because timings mean nothing without them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cpuinfer {

struct MachineInfo {
  std::string cpu_model;
  std::vector<std::string> isa;  // the vector/matrix extensions present (CPUID), e.g. avx2, avx512f, avx512_vnni
  int logical_cores = 0;         // std::thread::hardware_concurrency
  int usable_cores = 0;          // this process's CPU affinity mask
  std::uint64_t memory_bytes = 0;
  std::string os;                // uname: sysname release machine
  std::string compiler;
};

MachineInfo read_machine_info();

// Peak resident set size of this process ("high water mark"), in bytes.
std::uint64_t peak_rss_bytes();
// Resets the high water mark to the current RSS (Linux /proc/self/clear_refs), so that the next
// peak_rss_bytes() reports the peak of what follows. Returns false where the kernel refuses.
bool reset_peak_rss();

}  // namespace cpuinfer
