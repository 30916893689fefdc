// gpudoctor-worker: the process the NVML and CUDA probes (and watch's
// sampler) run the driver libraries in. The same modes exist as hidden
// `gpudoctor __…` commands; this separate executable links only what those
// modes need, so starting it costs less than starting gpudoctor itself.
#include <cstdio>
#include <cstring>

#include "gd/cuda/cuda_collect.hpp"
#include "gd/nvml/nvml_collect.hpp"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "__nvml-worker") == 0) return gd::nvml::worker_main(argv[2], 1);
  if (argc == 3 && std::strcmp(argv[1], "__nvml-sampler") == 0) return gd::nvml::sampler_main(argv[2], 0, 1);
  if (argc == 3 && std::strcmp(argv[1], "__cuda-worker") == 0) return gd::cuda::worker_main(argv[2], 1);
  if (argc == 3 && std::strcmp(argv[1], "__nvml-set-persistence") == 0)
    return gd::nvml::set_persistence_main(argv[2], 1);
  std::fprintf(stderr, "gpudoctor-worker: internal helper of gpudoctor; not for direct use\n");
  return 2;
}
