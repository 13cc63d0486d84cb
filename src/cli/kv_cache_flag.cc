#include "cli/kv_cache_flag.h"

#include <CLI/CLI.hpp>

#include <map>
#include <string>

namespace shuo::cli {

void add_kv_cache_flag(CLI::App& cmd, format::GgmlType& type) {
  type = format::GgmlType::F16;
  const std::map<std::string, format::GgmlType> names = {{"f16", format::GgmlType::F16},
                                                            {"f32", format::GgmlType::F32},
                                                            {"q8_0", format::GgmlType::Q8_0}};
  cmd.add_option("--kv-cache-dtype,--cache-type", type,
                 "KV cache elements: f16 (half the memory and attention reads), q8_0 (about half of f16 again; "
                 "head size a multiple of 32) or f32 (exact)")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("f16");
}

}  // namespace shuo::cli
