// The gRPC ChatHub (spec/api.md §4) against the real `shuo serve` binary with stories260K, through
// gRPC's C++ client: Chat, StreamingChat (cumulative replies), history rendering and the token
// budget, every INVALID_ARGUMENT case, RESOURCE_EXHAUSTED, deadlines and cancellation stopping
// generation, health and reflection, and a graceful SIGTERM.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <future>
#include <limits>
#include <regex>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "api/openai_test_util.h"
#include "chathub.grpc.pb.h"
#include "format/gguf.h"
#include "format/gguf_writer.h"
#include "health.grpc.pb.h"
#include "reflection.grpc.pb.h"
#include "text/utf8.h"

namespace shuo::api::openai::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::system_clock;

// `shuo serve --grpc-port 0 <extra>`; the gRPC port is read from the log.
class GrpcServe {
 public:
  explicit GrpcServe(std::vector<std::string> extra = {}, std::string model = stories_model())
      : proc_(with_grpc(std::move(extra)), std::move(model)) {
    static const std::regex kListening(R"(gRPC listening on [^ ]+:(\d+))");
    for (int i = 0; i < 500 && proc_.ok(); ++i) {
      std::smatch m;
      const std::string log = proc_.log();
      if (std::regex_search(log, m, kListening)) {
        grpc_port_ = uint16_t(std::stoi(m[1].str()));
        break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    if (grpc_port_)
      channel_ = ::grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_), ::grpc::InsecureChannelCredentials());
  }

  bool ok() const { return grpc_port_ != 0; }
  uint16_t http_port() const { return proc_.port(); }
  std::string log() { return proc_.log(); }
  int stop() { return proc_.stop(); }
  std::shared_ptr<::grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<aihub::ChatHub::Stub> stub() const { return aihub::ChatHub::NewStub(channel_); }

 private:
  static std::vector<std::string> with_grpc(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--grpc-port", "0"});
    return extra;
  }
  ServeProcess proc_;
  uint16_t grpc_port_ = 0;
  std::shared_ptr<::grpc::Channel> channel_;
};

// stories260K whose end-of-sequence id is <unk> (which it never samples): every generation runs
// to its token budget, so there is time to cancel it. Removed on destruction.
class NeverStoppingModel {
 public:
  NeverStoppingModel() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("shuo_grpc_never_stops_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".gguf");
    auto src = format::GgufFile::open(stories_model());
    if (!src.ok()) return;
    format::GgufWriter w;
    w.copy_metadata(*src);
    w.set_u32("tokenizer.ggml.eos_token_id", 0);
    for (const auto& t : src->tensors())
      if (!w.add_tensor(t.name, t.type, t.ne, std::span<const uint8_t>(t.data, t.n_bytes)).ok()) return;
    ok_ = w.write(path_.string()).ok();
  }
  ~NeverStoppingModel() { std::filesystem::remove(path_); }
  bool ok() const { return ok_; }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
  bool ok_ = false;
};

aihub::ChatRequest request(const std::string& prompt, int32_t max_length = 0, float top_p = 0, float temperature = 0) {
  aihub::ChatRequest r;
  r.set_prompt(prompt);
  r.set_max_length(max_length);
  r.set_top_p(top_p);
  r.set_temperature(temperature);
  return r;
}

void add_message(aihub::ChatRequest& r, const std::string& role, const std::string& content) {
  aihub::Message* m = r.add_history();
  m->set_role(role);
  m->set_content(content);
}

// Greedy as far as the proto can say it: 0 means "server default", so a tiny top_p keeps only
// the most likely token (and a tiny temperature makes it certain).
aihub::ChatRequest greedy(const std::string& prompt, int32_t max_length = 0) {
  return request(prompt, max_length, 1e-6f, 1e-6f);
}

void set_deadline(::grpc::ClientContext& ctx, milliseconds ms = milliseconds(kTimeoutMs)) {
  ctx.set_deadline(system_clock::now() + ms);
}

struct ChatResult {
  ::grpc::Status status;
  std::string response;
};

ChatResult chat(const GrpcServe& s, const aihub::ChatRequest& req) {
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  aihub::ChatReply reply;
  ChatResult r;
  r.status = s.stub()->Chat(&ctx, req, &reply);
  r.response = reply.response();
  return r;
}

struct StreamResult {
  ::grpc::Status status;
  std::vector<std::string> responses;
};

StreamResult stream(const GrpcServe& s, const aihub::ChatRequest& req) {
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  auto reader = s.stub()->StreamingChat(&ctx, req);
  StreamResult r;
  aihub::ChatReply reply;
  while (reader->Read(&reply)) r.responses.push_back(reply.response());
  r.status = reader->Finish();
  return r;
}

// The OpenAI chat completion of the same messages, greedy: {content, prompt_tokens}.
std::pair<std::string, int> openai_chat(const GrpcServe& s, const Json& messages, int max_tokens) {
  Reply r = post(s.http_port(), "/v1/chat/completions",
                 Json{{"messages", messages}, {"max_tokens", max_tokens}, {"temperature", 0}});
  EXPECT_EQ(r.status, 200) << r.body;
  Json j = json_of(r);
  if (j.is_null()) return {"", 0};
  return {j["choices"][0]["message"]["content"].get<std::string>(), j["usage"]["prompt_tokens"].get<int>()};
}

double metric(uint16_t port, const std::string& name) {
  Reply r = get(port, "/metrics");
  size_t at = r.body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

bool wait_for_metric(uint16_t port, const std::string& name, double want) {
  for (int i = 0; i < 500; ++i) {
    if (metric(port, name) == want) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

// One server with the plain stories260K model for the tests that do not need their own flags.
class GrpcChatHub : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (have_testdata("stories260K/model.gguf")) server_ = new GrpcServe();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
    ASSERT_TRUE(server_ && server_->ok()) << (server_ ? server_->log() : "");
  }
  const GrpcServe& server() const { return *server_; }

  // An INVALID_ARGUMENT from both methods whose message contains `mentions`.
  void expect_invalid(const aihub::ChatRequest& req, const std::string& mentions) {
    ChatResult c = chat(server(), req);
    EXPECT_EQ(c.status.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << c.status.error_message();
    EXPECT_NE(c.status.error_message().find(mentions), std::string::npos) << c.status.error_message();
    StreamResult s = stream(server(), req);
    EXPECT_EQ(s.status.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << s.status.error_message();
    EXPECT_NE(s.status.error_message().find(mentions), std::string::npos) << s.status.error_message();
    EXPECT_TRUE(s.responses.empty());
  }

  static bool have_testdata(const std::string& rel) { return shuo::testing::have_testdata(rel); }
  static GrpcServe* server_;
};
GrpcServe* GrpcChatHub::server_ = nullptr;

// --- Chat and StreamingChat ------------------------------------------------------------------

TEST_F(GrpcChatHub, ChatEqualsTheOpenAiSurfaceForGreedySettings) {
  auto [text, n_prompt] = openai_chat(server(), Json::array({{{"role", "user"}, {"content", "Once upon a time"}}}), 40);
  ASSERT_FALSE(text.empty());
  ChatResult c = chat(server(), greedy("Once upon a time", n_prompt + 40));
  ASSERT_TRUE(c.status.ok()) << c.status.error_message();
  EXPECT_EQ(c.response, text);
}

TEST_F(GrpcChatHub, StreamingRepliesAreCumulativeAndEndWithChatsReply) {
  const aihub::ChatRequest req = greedy("One day, Tom went to the park", 120);
  ChatResult whole = chat(server(), req);
  ASSERT_TRUE(whole.status.ok()) << whole.status.error_message();
  ASSERT_FALSE(whole.response.empty());
  StreamResult s = stream(server(), req);
  ASSERT_TRUE(s.status.ok()) << s.status.error_message();
  ASSERT_GE(s.responses.size(), 2u);
  for (size_t i = 1; i < s.responses.size(); ++i) {
    EXPECT_GT(s.responses[i].size(), s.responses[i - 1].size()) << i;
    EXPECT_EQ(s.responses[i].compare(0, s.responses[i - 1].size(), s.responses[i - 1]), 0)
        << "reply " << i << " does not extend the previous one";
  }
  EXPECT_EQ(s.responses.back(), whole.response);
}

// Sampled (the defaults), with byte-fallback Chinese in the prompt: every reply is whole UTF-8
// (the C++ client would refuse a string that is not) and extends the one before.
TEST_F(GrpcChatHub, SampledStreamNeverSplitsACharacter) {
  StreamResult s = stream(server(), request("Tom said 你好 to", 200, 1.0f, 1.5f));
  ASSERT_TRUE(s.status.ok()) << s.status.error_message();
  ASSERT_FALSE(s.responses.empty());
  for (size_t i = 0; i < s.responses.size(); ++i) {
    EXPECT_TRUE(text::is_valid_utf8(s.responses[i])) << i;
    if (i > 0) EXPECT_EQ(s.responses[i].compare(0, s.responses[i - 1].size(), s.responses[i - 1]), 0) << i;
  }
}

// History is rendered with the model's chat format after joining consecutive messages of one
// role with a blank line (the prompt is the last user turn), and max_length is the whole budget:
// a budget of exactly the prompt's tokens leaves no room, one more allows one token.
TEST_F(GrpcChatHub, HistoryIsMergedByRoleAndMaxLengthIsTheTotalBudget) {
  aihub::ChatRequest req = greedy("and a dog.");
  add_message(req, "system", "Tell a story.");
  add_message(req, "user", "Once upon a time");
  add_message(req, "assistant", "there was a girl.");
  add_message(req, "assistant", "She had a cat.");
  add_message(req, "user", "She had a ball");
  const Json merged = Json::array({{{"role", "system"}, {"content", "Tell a story."}},
                                   {{"role", "user"}, {"content", "Once upon a time"}},
                                   {{"role", "assistant"}, {"content", "there was a girl.\n\nShe had a cat."}},
                                   {{"role", "user"}, {"content", "She had a ball\n\nand a dog."}}});
  auto [text, n_prompt] = openai_chat(server(), merged, 30);
  ASSERT_GT(n_prompt, 10);

  req.set_max_length(n_prompt);
  ChatResult none = chat(server(), req);
  EXPECT_EQ(none.status.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << none.status.error_message();
  EXPECT_NE(none.status.error_message().find("prompt: history and prompt take " + std::to_string(n_prompt) + " tokens"),
            std::string::npos)
      << none.status.error_message();

  req.set_max_length(n_prompt + 30);
  ChatResult c = chat(server(), req);
  ASSERT_TRUE(c.status.ok()) << c.status.error_message();
  EXPECT_EQ(c.response, text);
}

TEST_F(GrpcChatHub, MaxLengthAboveTheContextIsCappedAtIt) {
  // The old C# client always sends 2048; this server's context is 512.
  ChatResult c = chat(server(), request("The cat", 2048, 0.75f, 0.95f));
  EXPECT_TRUE(c.status.ok()) << c.status.error_message();
}

// --- INVALID_ARGUMENT --------------------------------------------------------------------------

TEST_F(GrpcChatHub, EmptyPromptIsInvalid) { expect_invalid(request(""), "prompt: must not be empty"); }

TEST_F(GrpcChatHub, UnknownRoleIsInvalid) {
  aihub::ChatRequest req = request("Hi");
  add_message(req, "user", "a");
  add_message(req, "bot", "b");
  expect_invalid(req, "history[1].role: must be \"system\", \"user\" or \"assistant\", got \"bot\"");
  aihub::ChatRequest empty_role = request("Hi");
  add_message(empty_role, "", "a");
  expect_invalid(empty_role, "history[0].role");
}

TEST_F(GrpcChatHub, NegativeOrOutOfRangeValuesAreInvalid) {
  expect_invalid(request("Hi", -1), "max_length: must be ≥ 0");
  expect_invalid(request("Hi", 0, -0.5f), "top_p: must be in [0, 1]");
  expect_invalid(request("Hi", 0, 1.5f), "top_p: must be in [0, 1]");
  expect_invalid(request("Hi", 0, std::numeric_limits<float>::quiet_NaN()), "top_p");
  expect_invalid(request("Hi", 0, 0, -1.0f), "temperature: must be in [0, 2]");
  expect_invalid(request("Hi", 0, 0, 2.5f), "temperature: must be in [0, 2]");
  expect_invalid(request("Hi", 0, 0, std::numeric_limits<float>::infinity()), "temperature");
}

TEST_F(GrpcChatHub, InvalidUtf8IsInvalidAndNamesTheField) {
  // protobuf's C++ serializer complains about such strings on stderr but sends them.
  expect_invalid(request("Hello \xff world"), "prompt: is not valid UTF-8 (first bad byte at offset 6)");
  aihub::ChatRequest req = request("Hi");
  add_message(req, "user", "ok");
  add_message(req, "assistant", "\xe4\xbd");  // a character cut short
  expect_invalid(req, "history[1].content: is not valid UTF-8");
}

TEST_F(GrpcChatHub, PromptPastTheContextIsInvalid) {
  std::string words;
  for (int i = 0; i < 400; ++i) words += "The cat sat on the mat. ";
  expect_invalid(request(words), "the context per sequence (512 tokens) leaves no room for a reply");
}

TEST_F(GrpcChatHub, BytesThatAreNoChatRequestAreInvalid) {
  ::grpc::GenericStub generic(server().channel());
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  ::grpc::Slice garbage(std::string("\x0a\xff\xff\xff\xff", 5));  // field 1, a length past the end
  ::grpc::ByteBuffer req(&garbage, 1), resp;
  std::promise<::grpc::Status> done;
  generic.UnaryCall(&ctx, "/aihub.ChatHub/Chat", ::grpc::StubOptions(), &req, &resp,
                    [&done](::grpc::Status st) { done.set_value(st); });
  ::grpc::Status st = done.get_future().get();
  EXPECT_EQ(st.error_code(), ::grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("request: is not a valid aihub.ChatRequest"), std::string::npos) << st.error_message();
}

// --- health and reflection ---------------------------------------------------------------------

TEST_F(GrpcChatHub, HealthIsServing) {
  auto health = ::grpc::health::v1::Health::NewStub(server().channel());
  for (const char* service : {"", "aihub.ChatHub"}) {
    ::grpc::ClientContext ctx;
    set_deadline(ctx);
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    ::grpc::health::v1::HealthCheckResponse resp;
    ::grpc::Status st = health->Check(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << service << ": " << st.error_message();
    EXPECT_EQ(resp.status(), ::grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  ::grpc::health::v1::HealthCheckRequest req;
  req.set_service("no.such.Service");
  ::grpc::health::v1::HealthCheckResponse resp;
  EXPECT_EQ(health->Check(&ctx, req, &resp).error_code(), ::grpc::StatusCode::NOT_FOUND);
}

// What grpcurl does without a proto file: list the services, then fetch the file that defines one.
TEST_F(GrpcChatHub, ReflectionDescribesChatHub) {
  namespace rf = ::grpc::reflection::v1alpha;
  auto stub = rf::ServerReflection::NewStub(server().channel());
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  auto s = stub->ServerReflectionInfo(&ctx);
  rf::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(s->Write(list));
  rf::ServerReflectionResponse resp;
  ASSERT_TRUE(s->Read(&resp));
  std::vector<std::string> names;
  for (const auto& svc : resp.list_services_response().service()) names.push_back(svc.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "aihub.ChatHub"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());

  rf::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("aihub.ChatHub");
  ASSERT_TRUE(s->Write(symbol));
  ASSERT_TRUE(s->Read(&resp));
  ASSERT_EQ(resp.file_descriptor_response().file_descriptor_proto_size(), 1) << resp.DebugString();
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.package(), "aihub");
  EXPECT_EQ(file.options().csharp_namespace(), "AIHub.RPC");
  ASSERT_EQ(file.service_size(), 1);
  const auto& svc = file.service(0);
  EXPECT_EQ(svc.name(), "ChatHub");
  ASSERT_EQ(svc.method_size(), 2);
  EXPECT_EQ(svc.method(0).name(), "Chat");
  EXPECT_FALSE(svc.method(0).server_streaming());
  EXPECT_EQ(svc.method(1).name(), "StreamingChat");
  EXPECT_TRUE(svc.method(1).server_streaming());
  s->WritesDone();
  EXPECT_TRUE(s->Finish().ok());
}

// --- servers with their own flags: cancellation, overload, shutdown ---------------------------

TEST(GrpcChatHubFlags, DeadlineExceededStopsTheGeneration) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  NeverStoppingModel model;
  ASSERT_TRUE(model.ok());
  GrpcServe server({"--ctx", "4096"}, model.path());
  ASSERT_TRUE(server.ok()) << server.log();

  {  // streamed: the deadline passes mid-stream
    ::grpc::ClientContext ctx;
    set_deadline(ctx, milliseconds(500));
    auto reader = server.stub()->StreamingChat(&ctx, request("Once upon a time"));
    aihub::ChatReply reply;
    while (reader->Read(&reply)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {  // unary
    ::grpc::ClientContext ctx;
    set_deadline(ctx, milliseconds(300));
    aihub::ChatReply reply;
    EXPECT_EQ(server.stub()->Chat(&ctx, request("The cat"), &reply).error_code(), ::grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  EXPECT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_running_sequences", 0)) << server.log();
  // Uncancelled, the two would generate about 2 × 4090 tokens.
  EXPECT_LT(metric(server.http_port(), "shuo_engine_generated_tokens_total"), 4000) << server.log();
  EXPECT_NE(server.log().find("method=aihub.ChatHub/StreamingChat code=CANCELLED"), std::string::npos) << server.log();
}

TEST(GrpcChatHubFlags, ClientCancelStopsTheGeneration) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  NeverStoppingModel model;
  ASSERT_TRUE(model.ok());
  GrpcServe server({"--ctx", "4096"}, model.path());
  ASSERT_TRUE(server.ok()) << server.log();
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  auto reader = server.stub()->StreamingChat(&ctx, request("Once upon a time"));
  aihub::ChatReply reply;
  ASSERT_TRUE(reader->Read(&reply));
  EXPECT_EQ(metric(server.http_port(), "shuo_engine_running_sequences"), 1);
  ctx.TryCancel();
  while (reader->Read(&reply)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_running_sequences", 0)) << server.log();
  EXPECT_LT(metric(server.http_port(), "shuo_engine_generated_tokens_total"), 4000) << server.log();
}

TEST(GrpcChatHubFlags, FullQueueIsResourceExhausted) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  NeverStoppingModel model;
  ASSERT_TRUE(model.ok());
  GrpcServe server({"--ctx", "4096", "--parallel", "1", "--max-queue", "1"}, model.path());
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = server.stub();
  ::grpc::ClientContext running_ctx, waiting_ctx;
  set_deadline(running_ctx);
  set_deadline(waiting_ctx);
  auto running = stub->StreamingChat(&running_ctx, request("Once upon a time"));
  ASSERT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_running_sequences", 1));  // the only slot
  auto waiting = stub->StreamingChat(&waiting_ctx, request("The cat"));
  ASSERT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_queued_requests", 1));   // the only place in line

  ChatResult c = chat(server, request("Lily had a"));
  EXPECT_EQ(c.status.error_code(), ::grpc::StatusCode::RESOURCE_EXHAUSTED) << c.status.error_message();
  EXPECT_NE(c.status.error_message().find("queue is full"), std::string::npos) << c.status.error_message();

  running_ctx.TryCancel();
  waiting_ctx.TryCancel();
  aihub::ChatReply reply;
  while (running->Read(&reply)) {
  }
  while (waiting->Read(&reply)) {
  }
  running->Finish();
  waiting->Finish();
  EXPECT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_running_sequences", 0));
  EXPECT_TRUE(wait_for_metric(server.http_port(), "shuo_engine_queued_requests", 0));
}

// SIGTERM mid-stream: the call in flight finishes within the grace period, then the process
// exits 0.
TEST(GrpcChatHubFlags, SigtermLetsAStreamFinish) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  NeverStoppingModel model;
  ASSERT_TRUE(model.ok());
  GrpcServe server({"--ctx", "2048"}, model.path());
  ASSERT_TRUE(server.ok()) << server.log();
  ::grpc::ClientContext ctx;
  set_deadline(ctx);
  auto reader = server.stub()->StreamingChat(&ctx, request("Once upon a time", 1024));
  aihub::ChatReply reply;
  ASSERT_TRUE(reader->Read(&reply));
  std::thread stopper([&] { server.stop(); });
  std::string last;
  while (reader->Read(&reply)) last = reply.response();
  ::grpc::Status st = reader->Finish();
  stopper.join();
  EXPECT_TRUE(st.ok()) << st.error_message() << "\n" << server.log();
  EXPECT_FALSE(last.empty());
  const int status = server.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server.log();
}

TEST(GrpcChatHubFlags, PortFlag) {
  SHUO_REQUIRE_TESTDATA("stories260K/model.gguf");
  {  // -1: no gRPC server
    ServeProcess server({"--grpc-port", "-1"});
    ASSERT_TRUE(server.ok()) << server.log();
    EXPECT_EQ(server.log().find("gRPC listening"), std::string::npos) << server.log();
  }
  {  // a port given explicitly that is taken: the server does not start
    GrpcServe first;
    ASSERT_TRUE(first.ok()) << first.log();
    const std::string taken = std::regex_replace(first.log(), std::regex(R"([\s\S]*gRPC listening on [^ ]+:(\d+)[\s\S]*)"), "$1");
    ServeProcess second({"--grpc-port", taken});
    EXPECT_FALSE(second.ok());
    EXPECT_NE(second.log().find("cannot listen for gRPC"), std::string::npos) << second.log();
    const int status = second.stop();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  }
  ServeProcess bad({"--grpc-port", "70000"});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.log().find("--grpc-port must be in [0, 65535], or -1"), std::string::npos) << bad.log();
}

}  // namespace
}  // namespace shuo::api::openai::testing
