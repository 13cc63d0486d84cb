// Runs a fuzz target's LLVMFuzzerTestOneInput over files (or every file in directories) without
// libFuzzer, so the targets are built and exercised in every build and in ctest.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {
void run_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  // Every prefix-truncation at a few points, too: the cheapest hostile inputs.
  for (size_t cut : {size_t(0), size_t(4), size_t(8), size_t(24), bytes.size() / 2, bytes.size() - 1})
    if (cut < bytes.size()) LLVMFuzzerTestOneInput(bytes.data(), cut);
}
}  // namespace

int main(int argc, char** argv) {
  int n = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file()) { run_file(e.path()); ++n; }
    } else if (std::filesystem::exists(p)) {
      run_file(p);
      ++n;
    }
  }
  std::printf("replayed %d inputs\n", n);
  return 0;
}
