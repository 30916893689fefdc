// gpudoctor-churn-child: one short-lived GPU process for `gpudoctor churn`.
// A separate, minimal executable (no libsystemd, no CLI) so that a launch
// costs little more than the driver initialisation it measures.
#include <cstdio>
#include <string_view>

#include "gd/churn/churn.hpp"

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--fork-server") return gd::churn::churn_zygote_main(argv[2], argv[3]);
  if (argc != 3) {
    std::fprintf(stderr, "usage: gpudoctor-churn-child [--fork-server] nvml|cuda LIBRARY\n");
    return 2;
  }
  return gd::churn::churn_child_main(argv[1], argv[2]);
}
