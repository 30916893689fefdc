// The front-end files embedded at build time (cmake/embed_web.cmake): uPlot
// from npm (web/node_modules, installed by scripts/setup; empty when it was not
// installed) and the report's own script and styles (src/gd/report/web/).
#pragma once

#include <string_view>

namespace gd::report {

std::string_view uplot_js();
std::string_view uplot_css();
std::string_view report_js();
std::string_view report_css();

}  // namespace gd::report
