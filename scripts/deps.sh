# Sourced by scripts/setup: the Debian 12 packages shuo needs to build and test.
SHUO_APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libpcre2-dev libboost1.81-dev
  python3 python3-numpy
  clang libclang-rt-14-dev
)
