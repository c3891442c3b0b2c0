// What a scan prints: the tools found (with where), what normalisation changed or could not
// enforce, what was skipped and why, and what happened to each project file.
#pragma once

#include <string>
#include <vector>

#include "scan/codegen.hpp"
#include "scan/tool.hpp"

namespace atlas::scan {

struct Report {
  std::vector<Tool> tools;
  std::vector<Skipped> skipped;
  std::vector<FileResult> files;  // empty when no --out was given
  std::string out_dir;
};

// Human-readable; `verbose` also lists the informational normalisation notes.
std::string render_text(const Report& report, bool verbose);
std::string render_json(const Report& report);

}  // namespace atlas::scan
