#include "gd/cli/cli.hpp"

int main(int argc, char** argv) { return gd::cli::run(argc, argv); }
