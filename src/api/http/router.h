// Route table: method + path pattern → Handler. Patterns are literal segments, "{name}" segments
// (one non-empty segment, captured) and an optional final "*" (the rest of the path, captured as
// "*"): "/v1/models", "/chat/{id}/clear", "/static/*".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http/message.h"

namespace shuo::api::http {

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route for this method (see path_known)
    bool path_known = false;           // some route matches the path (so: 405, not 404)
    std::string pattern;               // the matched route's pattern (metrics label)
    std::string allow;                 // when path_known && !handler: "GET, POST"
    std::map<std::string, std::string> params;  // decoded {name} values
  };
  // The most specific route matching `method` and `path`: segment by segment, a literal beats
  // a {param}, which beats "*". HEAD falls back to a GET route.
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    enum Kind { kTail = 0, kParam = 1, kLiteral = 2 } kind;
    std::string text;  // literal text or parameter name
  };
  struct Route {
    std::string method, pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  // Whether `r` matches the path `parts`; fills `params` (when non-null) with its captures.
  static bool matches(const Route& r, const std::vector<std::string_view>& parts,
                      std::map<std::string, std::string>* params);

  std::vector<Route> routes_;
};

}  // namespace shuo::api::http
