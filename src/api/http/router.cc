// Route matching by segments, most specific route first.
#include "api/http/router.h"

#include <algorithm>

namespace shuo::api::http {
namespace {

// "/a/b/" → {"a", "b", ""}; "/" → {""}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  Route r{std::move(method), std::move(pattern), {}, std::move(handler)};
  for (std::string_view part : split_path(r.pattern)) {
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      r.segments.push_back({Segment::kParam, std::string(part.substr(1, part.size() - 2))});
    } else if (part == "*") {
      r.segments.push_back({Segment::kTail, "*"});
    } else {
      r.segments.push_back({Segment::kLiteral, std::string(part)});
    }
  }
  routes_.push_back(std::move(r));
}

bool Router::matches(const Route& r, const std::vector<std::string_view>& parts,
                     std::map<std::string, std::string>* params) {
  size_t n = r.segments.size();
  bool tail = n > 0 && r.segments.back().kind == Segment::kTail;
  if (tail ? parts.size() < n - 1 : parts.size() != n) return false;
  for (size_t i = 0; i < n; ++i) {
    const Segment& s = r.segments[i];
    if (s.kind == Segment::kTail) {
      if (params) {
        std::string rest;
        for (size_t k = i; k < parts.size(); ++k) {
          if (k > i) rest += '/';
          rest += parts[k];
        }
        (*params)["*"] = percent_decode(rest, false);
      }
      return true;
    }
    if (s.kind == Segment::kLiteral) {
      if (parts[i] != s.text) return false;
    } else {
      if (parts[i].empty()) return false;
      if (params) (*params)[s.text] = percent_decode(parts[i], false);
    }
  }
  return true;
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  std::vector<std::string_view> parts = split_path(path);
  // Lexicographic specificity: compare segment kinds left to right, literal > param > tail.
  auto more_specific = [](const Route& a, const Route& b) {
    size_t n = std::min(a.segments.size(), b.segments.size());
    for (size_t i = 0; i < n; ++i) {
      if (a.segments[i].kind != b.segments[i].kind) return a.segments[i].kind > b.segments[i].kind;
    }
    // Equal so far: a route without a tail beats one whose tail matched nothing
    // ("/v1/models" over "/v1/models/*" for the path /v1/models); else the longer one.
    const bool a_tail = !a.segments.empty() && a.segments.back().kind == Segment::kTail;
    const bool b_tail = !b.segments.empty() && b.segments.back().kind == Segment::kTail;
    if (a_tail != b_tail) return !a_tail;
    return a.segments.size() > b.segments.size();
  };
  auto best_for = [&](std::string_view m) -> const Route* {
    const Route* best = nullptr;
    for (const Route& r : routes_) {
      if (r.method != m || !matches(r, parts, nullptr)) continue;
      if (!best || more_specific(r, *best)) best = &r;
    }
    return best;
  };

  Match out;
  const Route* best = best_for(method);
  if (!best && method == "HEAD") best = best_for("GET");
  if (best) {
    out.handler = &best->handler;
    out.path_known = true;
    out.pattern = best->pattern;
    matches(*best, parts, &out.params);
    return out;
  }
  std::vector<std::string> allowed;
  for (const Route& r : routes_) {
    if (matches(r, parts, nullptr) &&
        std::find(allowed.begin(), allowed.end(), r.method) == allowed.end()) {
      allowed.push_back(r.method);
    }
  }
  out.path_known = !allowed.empty();
  for (size_t i = 0; i < allowed.size(); ++i) out.allow += (i ? ", " : "") + allowed[i];
  return out;
}

}  // namespace shuo::api::http
