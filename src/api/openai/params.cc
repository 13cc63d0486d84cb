// JSON → typed OpenAI requests (see params.h). Every getter checks type and range and names
// the field in its error; nothing falls back to a default on a wrong value.
#include "api/openai/params.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <limits>

#include "api/openai/json_fields.h"
#include "text/stop_strings.h"

namespace shuo::api::openai {

namespace {

using Json = nlohmann::ordered_json;

constexpr int32_t kMaxChoices = 128;  // prompts × n, as OpenAI caps n

Result<std::vector<int32_t>> token_ids(const Json& arr, const std::string& name) {
  std::vector<int32_t> ids;
  ids.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    SHUO_ASSIGN(int64_t id, as_int(arr[i], name + "[" + std::to_string(i) + "]", 0,
                                   std::numeric_limits<int32_t>::max()));
    ids.push_back(int32_t(id));
  }
  return ids;
}

// string | [string, ...] | [id, ...] | [[id, ...], ...]
Result<std::vector<PromptInput>> prompt_inputs(const Json& v, const std::string& name) {
  std::vector<PromptInput> out;
  if (v.is_string()) {
    out.push_back({false, v.get<std::string>(), {}});
    return out;
  }
  if (!v.is_array()) return wrong_type(name, "a string, an array of strings or an array of token ids", v);
  if (v.empty()) return bad_field(name, "must not be an empty array");
  if (v[0].is_number()) {
    SHUO_ASSIGN(auto ids, token_ids(v, name));
    out.push_back({true, {}, std::move(ids)});
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string item = name + "[" + std::to_string(i) + "]";
    if (v[i].is_string()) {
      out.push_back({false, v[i].get<std::string>(), {}});
    } else if (v[i].is_array()) {
      if (v[i].empty()) return bad_field(item, "must not be an empty array");
      SHUO_ASSIGN(auto ids, token_ids(v[i], item));
      out.push_back({true, {}, std::move(ids)});
    } else {
      return wrong_type(item, "a string or an array of token ids", v[i]);
    }
  }
  return out;
}

Result<std::string> check_model(const Json& j) {
  SHUO_ASSIGN(auto model, get_string(j, "model"));
  return model.value_or("");
}

// Fields shared by /v1/completions and /v1/chat/completions (logprobs differ: see callers).
Result<GenerationParams> parse_generation(const Json& j) {
  GenerationParams g;
  SHUO_ASSIGN(g.model, check_model(j));
  engine::SamplingParams& s = g.sampling;

  SHUO_ASSIGN(auto max_tokens, get_int(j, "max_tokens", 1, std::numeric_limits<int32_t>::max()));
  SHUO_ASSIGN(auto max_completion, get_int(j, "max_completion_tokens", 1, std::numeric_limits<int32_t>::max()));
  if (max_completion) max_tokens = max_completion;
  if (max_tokens) g.max_tokens = int32_t(*max_tokens);
  SHUO_ASSIGN(auto min_tokens, get_int(j, "min_tokens", 0, std::numeric_limits<int32_t>::max()));
  g.min_tokens = int32_t(min_tokens.value_or(0));
  if (g.max_tokens && g.min_tokens > *g.max_tokens)
    return bad_field("min_tokens", "must not exceed max_tokens (" + std::to_string(*g.max_tokens) + "), got " + std::to_string(g.min_tokens));

  SHUO_ASSIGN(auto temperature, get_number(j, "temperature", 0.0, 2.0));
  if (temperature) s.temperature = float(*temperature);
  SHUO_ASSIGN(auto top_p, get_number(j, "top_p", 0.0, 1.0));
  if (top_p) {
    // top_p 0 keeps only the most likely token: that is greedy decoding.
    if (*top_p == 0.0) s.temperature = 0.0f;
    else s.top_p = float(*top_p);
  }
  SHUO_ASSIGN(auto top_k, get_int(j, "top_k", -1, std::numeric_limits<int32_t>::max()));
  if (top_k) s.top_k = int32_t(std::max<int64_t>(0, *top_k));  // -1 (vLLM) = off, as 0
  SHUO_ASSIGN(auto min_p, get_number(j, "min_p", 0.0, 1.0));
  if (min_p) s.min_p = float(*min_p);
  SHUO_ASSIGN(auto rep, get_number(j, "repetition_penalty", 0.0, 100.0, /*lo_open=*/true));
  if (rep) s.repetition_penalty = float(*rep);
  SHUO_ASSIGN(auto presence, get_number(j, "presence_penalty", -2.0, 2.0));
  if (presence) s.presence_penalty = float(*presence);
  SHUO_ASSIGN(auto frequency, get_number(j, "frequency_penalty", -2.0, 2.0));
  if (frequency) s.frequency_penalty = float(*frequency);

  if (const Json* lb = json_field(j, "logit_bias")) {
    if (!lb->is_object()) return wrong_type("logit_bias", "an object of token id → bias", *lb);
    for (const auto& [key, value] : lb->items()) {
      const std::string where = "logit_bias[\"" + key + "\"]";
      char* end = nullptr;
      errno = 0;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || errno != 0 || id < 0 || id > std::numeric_limits<int32_t>::max())
        return bad_field(where, "keys must be token ids (non-negative integers)");
      if (!value.is_number()) return wrong_type(where, "a number", value);
      const double b = value.get<double>();
      if (!(b >= -100.0 && b <= 100.0)) return bad_field(where, "must be in [-100, 100], got " + format_number(b));
      s.logit_bias.emplace_back(int32_t(id), float(b));
    }
  }

  SHUO_ASSIGN(auto seed, get_int(j, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  if (seed) {
    s.seed = uint64_t(*seed);
    s.has_seed = true;
  }
  SHUO_ASSIGN(auto do_sample, get_bool(j, "do_sample"));
  if (do_sample && !*do_sample) s.temperature = 0.0f;
  SHUO_ASSIGN(auto num_beams, get_int(j, "num_beams", 1, engine::BeamParams::kMaxBeams));
  g.num_beams = int32_t(num_beams.value_or(1));
  // vLLM's older spelling: use_beam_search with best_of (else n) as the number of beams.
  SHUO_ASSIGN(auto use_beam_search, get_bool(j, "use_beam_search"));
  SHUO_ASSIGN(auto best_of, get_int(j, "best_of", 1, kMaxChoices));
  SHUO_ASSIGN(auto n, get_int(j, "n", 1, kMaxChoices));
  g.n = int32_t(n.value_or(1));
  const bool vllm_beams = use_beam_search.value_or(false) && !num_beams;
  if (vllm_beams) {
    const int64_t width = best_of.value_or(g.n);
    if (width > engine::BeamParams::kMaxBeams)
      return bad_field(best_of ? "best_of" : "n", "must be at most " + std::to_string(engine::BeamParams::kMaxBeams) +
                                                     " with use_beam_search (the number of beams), got " + std::to_string(width));
    g.num_beams = int32_t(width);
    s.temperature = 0.0f;  // one beam is greedy decoding, not sampling
  }
  // Beam search never draws: do_sample true with beams would be beam sampling, which shuo does
  // not do. Absent do_sample is taken as false here, as Hugging Face's default is.
  if (g.num_beams > 1 && do_sample && *do_sample)
    return bad_field("do_sample", "must be false with num_beams > 1 (beam search is deterministic; beam sampling is not supported)");
  if (g.num_beams > 1 && g.n > g.num_beams)
    return bad_field("n", "must be at most num_beams (" + std::to_string(g.num_beams) + ") with beam search: the choices are the n best beams, got " + std::to_string(g.n));
  if (best_of && *best_of != g.n && !(vllm_beams && *best_of == g.num_beams))
    return Error{ErrorCode::kUnsupported, "best_of", "best_of other than n is not supported yet (except as the beam width with use_beam_search)"};
  SHUO_ASSIGN(auto length_penalty, get_number(j, "length_penalty", -10.0, 10.0));
  if (length_penalty) g.length_penalty = float(*length_penalty);
  if (const Json* es = json_field(j, "early_stopping")) {
    if (es->is_boolean()) g.early_stopping = es->get<bool>() ? engine::EarlyStopping::kFirst : engine::EarlyStopping::kHeuristic;
    else if (es->is_string() && es->get<std::string>() == "never") g.early_stopping = engine::EarlyStopping::kNever;
    else return bad_field("early_stopping", "must be true, false or \"never\"");
  }

  if (const Json* stop = json_field(j, "stop")) {
    if (stop->is_string()) {
      g.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) return wrong_type("stop[" + std::to_string(i) + "]", "a string", (*stop)[i]);
        g.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      return wrong_type("stop", "a string or an array of strings", *stop);
    }
    SHUO_TRY(text::validate_stop_strings(g.stop));
  }

  SHUO_ASSIGN(auto ignore_eos, get_bool(j, "ignore_eos"));
  g.ignore_eos = ignore_eos.value_or(false);
  SHUO_ASSIGN(auto stream, get_bool(j, "stream"));
  g.stream = stream.value_or(false);
  if (const Json* so = json_field(j, "stream_options")) {
    if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
    if (const Json* iu = json_field(*so, "include_usage")) {
      if (!iu->is_boolean()) return wrong_type("stream_options.include_usage", "a boolean", *iu);
      g.include_usage = iu->get<bool>();
    }
  }
  return g;
}

}  // namespace

Result<nlohmann::ordered_json> parse_chat_messages(const nlohmann::ordered_json& messages,
                                                   const std::string& name) {
  if (!messages.is_array()) return wrong_type(name, "an array", messages);
  Json out_messages = Json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    const std::string where = name + "[" + std::to_string(i) + "]";
    if (!m.is_object()) return wrong_type(where, "an object", m);
    SHUO_ASSIGN(auto role, get_string(m, "role"));
    if (!role) return bad_field(where + ".role", "is required");
    std::string r_name = *role;
    if (r_name == "developer") r_name = "system";  // OpenAI's newer name for system
    if (r_name != "system" && r_name != "user" && r_name != "assistant")
      return bad_field(where + ".role", "must be \"system\", \"user\" or \"assistant\", got \"" + *role + "\"");
    std::string content;
    const Json* c = json_field(m, "content");
    if (!c) {
      if (r_name != "assistant") return bad_field(where + ".content", "is required");
    } else if (c->is_string()) {
      content = c->get<std::string>();
    } else if (c->is_array()) {
      for (size_t k = 0; k < c->size(); ++k) {
        const Json& part = (*c)[k];
        const std::string pw = where + ".content[" + std::to_string(k) + "]";
        if (!part.is_object()) return wrong_type(pw, "an object", part);
        SHUO_ASSIGN(auto type, get_string(part, "type"));
        if (!type) return bad_field(pw + ".type", "is required");
        if (*type != "text")
          return Error{ErrorCode::kUnsupported, pw + ".type", "content parts of type \"" + *type + "\" are not supported (only \"text\")"};
        SHUO_ASSIGN(auto text, get_string(part, "text"));
        if (!text) return bad_field(pw + ".text", "is required");
        content += *text;
      }
    } else {
      return wrong_type(where + ".content", "a string or an array of content parts", *c);
    }
    nlohmann::ordered_json out = {{"role", r_name}, {"content", std::move(content)}};
    SHUO_ASSIGN(auto name, get_string(m, "name"));
    if (name) out["name"] = *name;
    out_messages.push_back(std::move(out));
  }
  return out_messages;
}

Result<CompletionRequest> parse_completion_request(std::string_view body) {
  SHUO_ASSIGN(Json j, parse_json_object(body));
  CompletionRequest r;
  SHUO_ASSIGN(r.gen, parse_generation(j));
  const Json* prompt = json_field(j, "prompt");
  if (!prompt) return bad_field("prompt", "is required");
  SHUO_ASSIGN(r.prompts, prompt_inputs(*prompt, "prompt"));
  if (int64_t(r.prompts.size()) * r.gen.n > kMaxChoices)
    return bad_field("n", "prompts × n must be at most " + std::to_string(kMaxChoices));
  // Legacy logprobs: an integer, the number of alternatives per token (0 = only the chosen).
  SHUO_ASSIGN(auto logprobs, get_int(j, "logprobs", 0, 20));
  if (logprobs) {
    r.gen.want_logprobs = true;
    r.gen.top_logprobs = int32_t(*logprobs);
  }
  SHUO_ASSIGN(auto echo, get_bool(j, "echo"));
  r.echo = echo.value_or(false);
  if (r.echo && r.gen.want_logprobs)
    return Error{ErrorCode::kUnsupported, "echo", "echo together with logprobs is not supported yet"};
  SHUO_ASSIGN(auto suffix, get_string(j, "suffix"));
  if (suffix && !suffix->empty())
    return Error{ErrorCode::kUnsupported, "suffix", "suffix (fill in the middle) is not supported yet"};
  return r;
}

Result<ChatRequest> parse_chat_request(std::string_view body) {
  SHUO_ASSIGN(Json j, parse_json_object(body));
  ChatRequest r;
  SHUO_ASSIGN(r.gen, parse_generation(j));

  const Json* messages = json_field(j, "messages");
  if (!messages) return bad_field("messages", "is required");
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  if (messages->empty()) return bad_field("messages", "must contain at least one message");
  SHUO_ASSIGN(r.messages, parse_chat_messages(*messages, "messages"));

  SHUO_ASSIGN(auto logprobs, get_bool(j, "logprobs"));
  r.gen.want_logprobs = logprobs.value_or(false);
  SHUO_ASSIGN(auto top_logprobs, get_int(j, "top_logprobs", 0, 20));
  if (top_logprobs) {
    if (!r.gen.want_logprobs && *top_logprobs > 0) return bad_field("top_logprobs", "requires logprobs: true");
    r.gen.top_logprobs = int32_t(*top_logprobs);
  }

  if (const Json* tools = json_field(j, "tools"); tools && !(tools->is_array() && tools->empty()))
    return Error{ErrorCode::kUnsupported, "tools", "tool calling is not supported yet"};
  if (const Json* rf = json_field(j, "response_format")) {
    if (!rf->is_object()) return wrong_type("response_format", "an object", *rf);
    SHUO_ASSIGN(auto type, get_string(*rf, "type"));
    if (type && *type != "text")
      return Error{ErrorCode::kUnsupported, "response_format", "response_format \"" + *type + "\" is not supported yet"};
  }
  SHUO_ASSIGN(auto agp, get_bool(j, "add_generation_prompt"));
  r.add_generation_prompt = agp.value_or(true);
  if (const Json* kw = json_field(j, "chat_template_kwargs")) {
    if (!kw->is_object()) return wrong_type("chat_template_kwargs", "an object", *kw);
    r.template_kwargs = *kw;
  }
  return r;
}

Result<EmbeddingRequest> parse_embedding_request(std::string_view body) {
  SHUO_ASSIGN(Json j, parse_json_object(body));
  EmbeddingRequest r;
  SHUO_ASSIGN(r.model, check_model(j));
  const Json* input = json_field(j, "input");
  if (!input) return bad_field("input", "is required");
  SHUO_ASSIGN(r.inputs, prompt_inputs(*input, "input"));
  SHUO_ASSIGN(auto format, get_string(j, "encoding_format"));
  if (format && *format != "float" && *format != "base64")
    return bad_field("encoding_format", "must be \"float\" or \"base64\", got \"" + *format + "\"");
  r.base64 = format && *format == "base64";
  if (const Json* dims = json_field(j, "dimensions"); dims)
    return Error{ErrorCode::kUnsupported, "dimensions", "reduced embedding dimensions are not supported"};
  return r;
}

Result<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  SHUO_ASSIGN(Json j, parse_json_object(body));
  TokenizeRequest r;
  SHUO_ASSIGN(auto content, get_string(j, "content"));
  if (!content) return bad_field("content", "is required");
  r.content = std::move(*content);
  SHUO_ASSIGN(auto add_special, get_bool(j, "add_special"));
  r.add_special = add_special.value_or(false);
  SHUO_ASSIGN(auto with_pieces, get_bool(j, "with_pieces"));
  r.with_pieces = with_pieces.value_or(false);
  return r;
}

Result<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  SHUO_ASSIGN(Json j, parse_json_object(body));
  DetokenizeRequest r;
  const Json* tokens = json_field(j, "tokens");
  if (!tokens) return bad_field("tokens", "is required");
  if (!tokens->is_array()) return wrong_type("tokens", "an array of token ids", *tokens);
  SHUO_ASSIGN(r.tokens, token_ids(*tokens, "tokens"));
  return r;
}

}  // namespace shuo::api::openai
