// The web page built into the binary: the files web/build.mjs wrote into the build tree, linked
// in with the assembler's .incbin by cmake/web.cmake (the definition is a generated source).
#pragma once

#include <span>
#include <string_view>

namespace shuo::api::web {

struct EmbeddedFile {
  std::string_view path;   // relative to the page's root: "index.html", "assets/app.js"
  std::string_view bytes;  // the file as built
};

// Empty when shuo was configured with -DSHUO_WEB_PAGE=OFF.
std::span<const EmbeddedFile> embedded_web_files();

}  // namespace shuo::api::web
