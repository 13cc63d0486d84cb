// Evaluator for parsed chat templates: runs statements against variables and returns the text.
// Scoping follows Jinja2: `for` bodies, macros and `with` get their own scope (so a plain `set`
// inside a loop does not leak out), `if` does not; namespace() objects carry state across.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "text/jinja_parser.h"
#include "text/jinja_value.h"

namespace shuo::text::jinja {

using Vars = std::vector<std::pair<std::string, Value>>;

// Renders t with the given variables (looked up after template-local names and before the
// global functions range/namespace/dict/raise_exception/strftime_now). Never throws; every
// failure, including exhausted limits (ErrorCode::kLimit), is an Error whose `where` is
// "chat_template:LINE:COL", or kRaiseExceptionWhere for raise_exception().
Result<std::string> render(const Template& t, const Vars& vars, const Limits& limits);

}  // namespace shuo::text::jinja
