// Names and formatting for shuo::Error.
#include "core/result.h"

namespace shuo {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadFile: return "bad_file";
    case ErrorCode::kBadField: return "bad_field";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kLimit: return "limit";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::to_string() const {
  if (where.empty()) return message;
  return where + ": " + message;
}

}  // namespace shuo
