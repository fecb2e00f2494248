// The web search page's files (server/web/*.html, *.js, *.css), embedded
// into the binary at build time by server/web/embed_assets.py. Each file is
// served as /static/<name>; "/" is index.html.
#ifndef SERVER_WEB_WEB_ASSETS_H_
#define SERVER_WEB_WEB_ASSETS_H_

#include "absl/strings/string_view.h"

namespace server::web {

struct WebAsset {
  absl::string_view path;          // "/static/app.js"
  absl::string_view content_type;  // "text/javascript; charset=utf-8"
  absl::string_view body;          // the file's bytes
};

// The asset served at `path` ("/" or "/static/<name>"); null when none is.
const WebAsset* FindWebAsset(absl::string_view path);

}  // namespace server::web

#endif  // SERVER_WEB_WEB_ASSETS_H_
