# Sourced by scripts/setup: the Debian 12 packages shuo needs to build and test.
SHUO_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libpcre2-dev libutf8proc-dev libboost1.81-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libsqlite3-dev
  python3 python3-numpy
  sentencepiece  # spm_train/spm_encode: test data for the tokenizer.model reader
  clang libclang-rt-14-dev
)
# Node.js and npm for tests/npm (the official openai client against shuo serve). Installed only
# when `node` or `npm` is missing: a NodeSource nodejs bundles npm and conflicts with Debian's.
SHUO_NODE_PACKAGES=(nodejs npm)
# Chromium for the web page's browser tests (tests/npm/web_page.test.mjs, driven by playwright-core).
SHUO_BROWSER_PACKAGES=(chromium)
