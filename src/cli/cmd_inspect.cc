// `shuo inspect MODEL`: prints a GGUF file's header, metadata (long arrays summarised) and a
// tensor table, like gguf-dump. Useful to see why a model does not load. A Hugging Face folder
// is shown as the GGUF it loads as (what `shuo convert` would write).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/commands.h"
#include "cli/hf_folder.h"
#include "format/gguf.h"

namespace shuo::cli {

namespace {

std::string shape_string(const format::GgufTensorInfo& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.ne.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(t.ne[i]);
  }
  return s + "]";
}

int run_inspect(const std::string& path, bool all_items) {
  const bool folder = std::filesystem::is_directory(path);
  Result<format::GgufFile> file = Error{};
  if (folder) {
    auto hf = open_hf_folder(path);
    if (hf && hf->gguf_tokenizer_error)
      std::fprintf(stderr, "warning: no GGUF tokenizer keys: %s\n", hf->gguf_tokenizer_error->to_string().c_str());
    file = hf ? Result<format::GgufFile>(std::move(hf->file)) : Result<format::GgufFile>(hf.error());
  } else {
    file = format::GgufFile::open(path);
  }
  if (!file) {
    std::fprintf(stderr, "error: %s\n", file.error().to_string().c_str());
    return 1;
  }
  const auto& f = *file;
  if (folder)
    std::printf("folder: %s\nHugging Face model as GGUF (offsets as a converted file would have them)\n", f.path().c_str());
  else
    std::printf("file: %s\nGGUF version %u, %zu bytes, alignment %u, data at offset %zu\n",
                f.path().c_str(), f.version(), f.file_size(), f.alignment(), f.data_offset());
  std::printf("\nmetadata (%zu keys):\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata()) {
    std::string type = format::gguf_type_name(value.type());
    if (auto* a = std::get_if<std::shared_ptr<const format::GgufArray>>(&value.v))
      type += "<" + std::string(format::gguf_type_name((*a)->elem_type)) + ">";
    std::printf("  %-44s %-16s %s\n", key.c_str(), type.c_str(),
                format::gguf_value_to_string(value, all_items ? SIZE_MAX : 8).c_str());
  }
  std::printf("\ntensors (%zu):\n  %-40s %-8s %-24s %12s %12s\n", f.tensors().size(), "name",
              "type", "shape", "bytes", "offset");
  size_t total = 0;
  for (const auto& t : f.tensors()) {
    std::printf("  %-40s %-8s %-24s %12zu %12llu\n", t.name.c_str(), format::ggml_type_name(t.type),
                shape_string(t).c_str(), t.n_bytes, static_cast<unsigned long long>(t.offset));
    total += t.n_bytes;
  }
  std::printf("\ntotal tensor bytes: %zu (%.2f MiB)\n", total, double(total) / (1 << 20));
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Print a GGUF model's (or Hugging Face folder's) metadata and tensor table");
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  cmd->add_option("model", *path, "GGUF file or Hugging Face model folder")->required();
  cmd->add_flag("--all", *all, "print every element of long arrays");
  cmd->callback([=] { *exit_code = run_inspect(*path, *all); });
}

}  // namespace shuo::cli
