// The default streamed send of a chat backend that cannot stream (see backend.h).
#include "api/demo/backend.h"

#include <chrono>
#include <memory>
#include <utility>

namespace shuo::api::demo {

CancelFn ChatBackend::send_streamed(ChatContext context, std::string msg, ReplyOptions options, PieceFn on_piece,
                                    std::function<void(Outcome<StreamedReply>)> done) {
  const auto start = std::chrono::steady_clock::now();
  return send(std::move(context), std::move(msg), options,
              [start, on_piece = std::move(on_piece), done = std::move(done)](Outcome<std::string> out) {
                if (!out.ok()) return done(Outcome<StreamedReply>{std::move(out.error), {}});
                StreamedReply r;
                r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                if (!out.value.empty()) {
                  r.first_piece_seconds = r.seconds;
                  on_piece(out.value);
                }
                r.text = std::move(out.value);
                done(Outcome<StreamedReply>{std::nullopt, std::move(r)});
              });
}

}  // namespace shuo::api::demo
