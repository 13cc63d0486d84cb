// StopStringMatcher: one KMP automaton per stop string, so each byte is processed once however
// long the stop strings are and however the text is split.
#include "text/stop_strings.h"

#include <algorithm>
#include <utility>

#include "text/utf8.h"

namespace shuo::text {
namespace {

std::vector<uint32_t> failure_table(std::string_view s) {
  std::vector<uint32_t> fail(s.size(), 0);
  uint32_t k = 0;
  for (size_t j = 1; j < s.size(); ++j) {
    while (k > 0 && s[j] != s[k]) k = fail[k - 1];
    if (s[j] == s[k]) ++k;
    fail[j] = k;
  }
  return fail;
}

}  // namespace

Result<void> validate_stop_strings(const std::vector<std::string>& stops) {
  if (stops.size() > kMaxStopStrings)
    return make_error(ErrorCode::kBadField, "stop",
                      "at most " + std::to_string(kMaxStopStrings) + " stop strings, got " +
                          std::to_string(stops.size()));
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty())
      return make_error(ErrorCode::kBadField, "stop",
                        "stop string " + std::to_string(i) + " is empty");
    if (!is_valid_utf8(stops[i]))
      return make_error(ErrorCode::kBadField, "stop",
                        "stop string " + std::to_string(i) + " is not valid UTF-8");
  }
  return {};
}

Result<StopStringMatcher> StopStringMatcher::create(std::vector<std::string> stops) {
  SHUO_TRY(validate_stop_strings(stops));
  std::vector<Pattern> patterns;
  for (std::string& s : stops) {
    Pattern p;
    p.fail = failure_table(s);
    p.text = std::move(s);
    patterns.push_back(std::move(p));
  }
  return StopStringMatcher(std::move(patterns));
}

StopPush StopStringMatcher::push(std::string_view text) {
  if (stopped_) return {"", true};
  for (char ch : text) {
    held_.push_back(ch);
    size_t found = 0;  // length of the longest stop string completed by this byte
    for (Pattern& p : patterns_) {
      while (p.matched > 0 && p.text[p.matched] != ch) p.matched = p.fail[p.matched - 1];
      if (p.text[p.matched] == ch) ++p.matched;
      if (p.matched == p.text.size()) {
        found = std::max(found, p.text.size());
        p.matched = p.fail[p.matched - 1];
      }
    }
    if (found > 0) {
      // held_ keeps at least max(matched) bytes, so the whole stop string is still in it.
      held_.resize(held_.size() - found);
      StopPush out{std::move(held_), true};
      held_.clear();
      stopped_ = true;
      return out;
    }
  }
  // A stop string could still start only inside the longest partial match; the rest is safe.
  uint32_t keep = 0;
  for (const Pattern& p : patterns_) keep = std::max(keep, p.matched);
  StopPush out{held_.substr(0, held_.size() - keep), false};
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out = stopped_ ? std::string() : std::move(held_);
  held_.clear();
  for (Pattern& p : patterns_) p.matched = 0;
  return out;
}

}  // namespace shuo::text
