// Shared helpers for model tests: load the stories260K model and its reference outputs.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "format/gguf.h"
#include "model/model.h"
#include "test_support.h"

namespace shuo::testing {

inline std::string stories_gguf() { return (testdata_dir() / "stories260K/model.gguf").string(); }

inline nlohmann::json stories_reference() {
  return nlohmann::json::parse(read_file(testdata_dir() / "stories260K/reference.json"));
}

// Greedy choice: highest logit, ties → lowest id (as the reference does).
inline int32_t argmax(const float* logits, int32_t n) {
  return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
}

}  // namespace shuo::testing
