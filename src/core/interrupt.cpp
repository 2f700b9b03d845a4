// The stop request flag, set from a signal handler.
#include "core/interrupt.h"

#include <signal.h>

namespace cpuinfer {

namespace {

volatile sig_atomic_t g_signal = 0;

void on_signal(int signal) { g_signal = signal; }

}  // namespace

void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int interrupt_signal() { return g_signal; }

}  // namespace cpuinfer
