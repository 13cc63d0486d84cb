// The stories260K test model loaded once for an engine test, with its reference outputs.
#pragma once

#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format/gguf.h"
#include "model/model.h"
#include "test_support.h"

namespace shuo::testing {

struct StoriesModel {
  format::GgufFile file;
  std::unique_ptr<model::Model> model;
  nlohmann::json ref;  // stories260K/reference.json
};

inline std::unique_ptr<StoriesModel> load_stories() {
  auto f = format::GgufFile::open((testdata_dir() / "stories260K/model.gguf").string());
  EXPECT_TRUE(f.ok());
  auto fx = std::make_unique<StoriesModel>(StoriesModel{std::move(*f), nullptr, {}});
  auto m = model::load_model(fx->file);
  EXPECT_TRUE(m.ok());
  fx->model = std::move(*m);
  fx->ref = nlohmann::json::parse(read_file(testdata_dir() / "stories260K/reference.json"));
  return fx;
}

}  // namespace shuo::testing
