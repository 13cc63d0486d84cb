// The lenient ChatRequest reader and the ChatReply writer (see wire.h).
#include "api/grpc/wire.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include "chathub.pb.h"

namespace shuo::api::chathub {

namespace pb = google::protobuf;

struct RequestDecoder::Impl {
  pb::DescriptorPool pool;
  pb::DynamicMessageFactory factory{&pool};
  const pb::Message* prototype = nullptr;
  const pb::FieldDescriptor *prompt = nullptr, *history = nullptr, *max_length = nullptr,
                            *top_p = nullptr, *temperature = nullptr, *role = nullptr, *content = nullptr;
};

RequestDecoder::RequestDecoder() : impl_(std::make_unique<Impl>()) {
  pb::FileDescriptorProto file;
  aihub::ChatRequest::descriptor()->file()->CopyTo(&file);
  for (pb::DescriptorProto& msg : *file.mutable_message_type())
    for (pb::FieldDescriptorProto& f : *msg.mutable_field())
      if (f.type() == pb::FieldDescriptorProto::TYPE_STRING) f.set_type(pb::FieldDescriptorProto::TYPE_BYTES);
  const pb::FileDescriptor* fd = impl_->pool.BuildFile(file);
  // The twin is built from a descriptor protoc accepted; it cannot fail short of a bug.
  const pb::Descriptor* req = fd ? fd->FindMessageTypeByName("ChatRequest") : nullptr;
  const pb::Descriptor* msg = fd ? fd->FindMessageTypeByName("Message") : nullptr;
  if (!req || !msg) return;
  impl_->prototype = impl_->factory.GetPrototype(req);
  impl_->prompt = req->FindFieldByName("prompt");
  impl_->history = req->FindFieldByName("history");
  impl_->max_length = req->FindFieldByName("max_length");
  impl_->top_p = req->FindFieldByName("top_p");
  impl_->temperature = req->FindFieldByName("temperature");
  impl_->role = msg->FindFieldByName("role");
  impl_->content = msg->FindFieldByName("content");
}

RequestDecoder::~RequestDecoder() = default;

Result<ChatHubRequest> RequestDecoder::decode(std::string_view bytes) const {
  const Impl& d = *impl_;
  if (!d.prototype || !d.prompt || !d.history || !d.max_length || !d.top_p || !d.temperature || !d.role || !d.content)
    return Error{ErrorCode::kInternal, "chathub.proto", "the request decoder could not be built"};
  std::unique_ptr<pb::Message> m(d.prototype->New());
  if (bytes.size() > size_t(INT32_MAX) || !m->ParseFromArray(bytes.data(), int(bytes.size())))
    return Error{ErrorCode::kBadField, "request", "is not a valid aihub.ChatRequest message"};
  const pb::Reflection& rf = *m->GetReflection();
  ChatHubRequest r;
  r.prompt = rf.GetString(*m, d.prompt);
  r.max_length = rf.GetInt32(*m, d.max_length);
  r.top_p = rf.GetFloat(*m, d.top_p);
  r.temperature = rf.GetFloat(*m, d.temperature);
  const int n = rf.FieldSize(*m, d.history);
  r.history.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    const pb::Message& h = rf.GetRepeatedMessage(*m, d.history, i);
    const pb::Reflection& hr = *h.GetReflection();
    r.history.push_back(ChatMessage{hr.GetString(h, d.role), hr.GetString(h, d.content)});
  }
  return r;
}

std::string encode_reply(std::string_view response) {
  aihub::ChatReply reply;
  reply.set_response(std::string(response));
  return reply.SerializeAsString();
}

}  // namespace shuo::api::chathub
