// gpudoctor-churn-child: one short-lived GPU process for `gpudoctor churn`.
// A separate, minimal executable (no libsystemd, no CLI) so that a launch
// costs little more than the driver initialisation it measures.
#include <cstdio>

#include "gd/churn/churn.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gpudoctor-churn-child nvml|cuda LIBRARY\n");
    return 2;
  }
  return gd::churn::churn_child_main(argv[1], argv[2]);
}
