// The review UI's front end (assets/: index.html, app.js, app.css), embedded in the binary by
// host/src/review_ui/embed_assets.cmake at build time: the UI needs no file and no network.
#pragma once

#include <string_view>

namespace atlas::review_ui {

struct Asset {
  std::string_view name;  // file name under assets/
  std::string_view content_type;
  std::string_view body;
};

// nullptr when there is no such asset.
const Asset* find_asset(std::string_view name);

}  // namespace atlas::review_ui
