// --kv-cache-dtype (alias --cache-type, as llama.cpp's -ctk/-ctv spell the idea): the element
// type of the KV cache for every command that runs a model. One flag definition so that every
// command accepts the same names and default.
#pragma once

#include "format/ggml_types.h"

namespace CLI {
class App;
}

namespace shuo::cli {

// Registers the flag on `cmd`; `type` starts as F16 and becomes what the user chose (f16, f32, q8_0).
void add_kv_cache_flag(CLI::App& cmd, format::GgmlType& type);

}  // namespace shuo::cli
