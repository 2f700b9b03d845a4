// SIGINT and SIGTERM as a request to stop: a flag that long work checks between steps, so that it
// can stop cleanly (finish its files, say what was saved) instead of dying mid-write.
#pragma once

namespace cpuinfer {

// Installs the handlers (without SA_RESTART: a blocking poll or read returns EINTR at once).
void catch_interrupts();
// The signal that asked to stop (SIGINT, SIGTERM), 0 if none has.
int interrupt_signal();

}  // namespace cpuinfer
