// Progress of a model rewrite (`shuo quantize`, `shuo convert`) on stderr: a bar redrawn in
// place when stderr is a terminal; otherwise one line per tenth of the tensors.
#pragma once

#include <string>

#include "model/quantize.h"

namespace shuo::cli {

class QuantizeProgressPrinter {
 public:
  // `verbose`: also one line per tensor (name, type in → out, fallbacks). `what` starts the
  // plain progress lines ("quantize", "convert").
  QuantizeProgressPrinter(bool verbose, std::string what);
  void update(const model::QuantizeProgress& p);

 private:
  bool tty_, verbose_;
  std::string what_;
};

}  // namespace shuo::cli
