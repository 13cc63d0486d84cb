// tokenizer.json / tokenizer_config.json → HfTokenizerSpec; see hf_tokenizer_json.h.
#include "text/hf_tokenizer_json.h"

#include <nlohmann/json.hpp>

namespace shuo::text {

namespace {

using nlohmann::json;

// A JSON value with the path that leads to it, for errors.
struct Node {
  const json& v;
  std::string path;
};

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Error error(const std::string& path, std::string message, ErrorCode code = ErrorCode::kBadFile) const {
    return Error{code, source_ + ": " + (path.empty() ? "(top level)" : path), std::move(message)};
  }
  Error unsupported(const std::string& path, std::string message) const {
    return error(path, std::move(message), ErrorCode::kUnsupported);
  }

  static std::string child(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  // A member of an object; nullptr when absent or null.
  const json* opt(const Node& obj, std::string_view key) const {
    auto it = obj.v.find(key);
    if (it == obj.v.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Result<Node> object(const json& v, const std::string& path) const {
    if (!v.is_object()) return error(path, "must be an object, got " + type_name(v));
    return Node{v, path};
  }
  Result<Node> member_object(const Node& obj, std::string_view key) const {
    const json* v = opt(obj, key);
    if (!v) return error(child(obj.path, key), "is missing");
    return object(*v, child(obj.path, key));
  }
  Result<std::string> string(const Node& obj, std::string_view key) const {
    const json* v = opt(obj, key);
    if (!v) return error(child(obj.path, key), "is missing");
    if (!v->is_string()) return error(child(obj.path, key), "must be a string, got " + type_name(*v));
    return v->get<std::string>();
  }
  Result<std::optional<std::string>> opt_string(const Node& obj, std::string_view key) const {
    const json* v = opt(obj, key);
    if (!v) return std::optional<std::string>();
    if (!v->is_string()) return error(child(obj.path, key), "must be a string, got " + type_name(*v));
    return std::optional<std::string>(v->get<std::string>());
  }
  Result<bool> boolean(const Node& obj, std::string_view key, bool fallback) const {
    const json* v = opt(obj, key);
    if (!v) return fallback;
    if (!v->is_boolean()) return error(child(obj.path, key), "must be a boolean, got " + type_name(*v));
    return v->get<bool>();
  }
  Result<int32_t> integer(const Node& obj, std::string_view key, int32_t lo, int32_t hi,
                          std::optional<int32_t> fallback) const {
    const json* v = opt(obj, key);
    const std::string p = child(obj.path, key);
    if (!v) {
      if (fallback) return *fallback;
      return error(p, "is missing");
    }
    if (!v->is_number_integer()) return error(p, "must be an integer, got " + type_name(*v));
    const auto n = v->get<int64_t>();
    if (n < lo || n > hi)
      return error(p, std::to_string(n) + " is outside [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
    return static_cast<int32_t>(n);
  }
  Result<const json*> array(const Node& obj, std::string_view key) const {
    const json* v = opt(obj, key);
    if (!v) return error(child(obj.path, key), "is missing");
    if (!v->is_array()) return error(child(obj.path, key), "must be an array, got " + type_name(*v));
    return v;
  }

  static std::string type_name(const json& v) { return v.type_name(); }

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

constexpr int32_t kMaxId = (1 << 30);  // far above any real vocabulary; keeps id + 1 in range
constexpr int kMaxNesting = 16;        // Sequence inside Sequence: real files use one level

Result<json> parse_json(std::string_view text, const Reader& r) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // nlohmann's message carries the byte offset ("parse error at line 1, column 5: ...").
    return r.error("", std::string("is not valid JSON: ") + e.what());
  }
}

Result<HfPattern> pattern(const Reader& r, const Node& obj, std::string_view key) {
  SHUO_ASSIGN(Node p, r.member_object(obj, key));
  HfPattern out;
  if (const json* s = r.opt(p, "String")) {
    if (!s->is_string()) return r.error(Reader::child(p.path, "String"), "must be a string");
    out.text = s->get<std::string>();
  } else if (const json* re = r.opt(p, "Regex")) {
    if (!re->is_string()) return r.error(Reader::child(p.path, "Regex"), "must be a string");
    out.text = re->get<std::string>();
    out.regex = true;
  } else {
    return r.error(p.path, "must have a \"String\" or \"Regex\" member");
  }
  return out;
}

Result<HfPrependScheme> prepend_scheme(const Reader& r, const Node& obj) {
  SHUO_ASSIGN(std::optional<std::string> s, r.opt_string(obj, "prepend_scheme"));
  if (!s) {  // files written before prepend_scheme existed: add_prefix_space decides
    SHUO_ASSIGN(bool add, r.boolean(obj, "add_prefix_space", true));
    return add ? HfPrependScheme::kAlways : HfPrependScheme::kNever;
  }
  if (*s == "always") return HfPrependScheme::kAlways;
  if (*s == "first") return HfPrependScheme::kFirst;
  if (*s == "never") return HfPrependScheme::kNever;
  return r.error(Reader::child(obj.path, "prepend_scheme"),
                 "\"" + *s + "\" is not one of always, first, never");
}

// ---- normalizer ----

Result<void> normalizer(const Reader& r, const Node& n, std::vector<HfNormalizer>* out, int depth = 0) {
  if (depth > kMaxNesting) return r.error(n.path, "Sequences are nested too deeply");
  SHUO_ASSIGN(std::string type, r.string(n, "type"));
  using K = HfNormalizer::Kind;
  HfNormalizer step;
  if (type == "Sequence") {
    SHUO_ASSIGN(const json* items, r.array(n, "normalizers"));
    for (size_t i = 0; i < items->size(); ++i) {
      SHUO_ASSIGN(Node item, r.object((*items)[i], Reader::index(Reader::child(n.path, "normalizers"), i)));
      SHUO_TRY(normalizer(r, item, out, depth + 1));
    }
    return {};
  } else if (type == "NFC") {
    step.kind = K::kNfc;
  } else if (type == "NFD") {
    step.kind = K::kNfd;
  } else if (type == "NFKC") {
    step.kind = K::kNfkc;
  } else if (type == "NFKD") {
    step.kind = K::kNfkd;
  } else if (type == "Lowercase") {
    step.kind = K::kLowercase;
  } else if (type == "Prepend") {
    step.kind = K::kPrepend;
    SHUO_ASSIGN(step.prepend, r.string(n, "prepend"));
  } else if (type == "Replace") {
    step.kind = K::kReplace;
    SHUO_ASSIGN(step.pattern, pattern(r, n, "pattern"));
    SHUO_ASSIGN(step.content, r.string(n, "content"));
  } else if (type == "Strip") {
    step.kind = K::kStrip;
    SHUO_ASSIGN(step.strip_left, r.boolean(n, "strip_left", true));
    SHUO_ASSIGN(step.strip_right, r.boolean(n, "strip_right", true));
  } else {
    return r.unsupported(Reader::child(n.path, "type"),
                         "normalizer \"" + type +
                             "\" is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, "
                             "Prepend, Replace, Strip, Sequence)");
  }
  out->push_back(std::move(step));
  return {};
}

// ---- pre-tokenizer ----

Result<void> pre_tokenizer(const Reader& r, const Node& n, std::vector<HfPreTokenizer>* out, int depth = 0) {
  if (depth > kMaxNesting) return r.error(n.path, "Sequences are nested too deeply");
  SHUO_ASSIGN(std::string type, r.string(n, "type"));
  using K = HfPreTokenizer::Kind;
  HfPreTokenizer step;
  if (type == "Sequence") {
    SHUO_ASSIGN(const json* items, r.array(n, "pretokenizers"));
    for (size_t i = 0; i < items->size(); ++i) {
      SHUO_ASSIGN(Node item,
                  r.object((*items)[i], Reader::index(Reader::child(n.path, "pretokenizers"), i)));
      SHUO_TRY(pre_tokenizer(r, item, out, depth + 1));
    }
    return {};
  } else if (type == "Split") {
    step.kind = K::kSplit;
    SHUO_ASSIGN(step.pattern, pattern(r, n, "pattern"));
    SHUO_ASSIGN(std::string behavior, r.string(n, "behavior"));
    if (behavior == "Isolated") step.behavior = HfSplitBehavior::kIsolated;
    else if (behavior == "Removed") step.behavior = HfSplitBehavior::kRemoved;
    else if (behavior == "MergedWithPrevious") step.behavior = HfSplitBehavior::kMergedWithPrevious;
    else if (behavior == "MergedWithNext") step.behavior = HfSplitBehavior::kMergedWithNext;
    else if (behavior == "Contiguous") step.behavior = HfSplitBehavior::kContiguous;
    else
      return r.error(Reader::child(n.path, "behavior"), "\"" + behavior + "\" is not a split behavior");
    SHUO_ASSIGN(step.invert, r.boolean(n, "invert", false));
  } else if (type == "ByteLevel") {
    step.kind = K::kByteLevel;
    SHUO_ASSIGN(step.add_prefix_space, r.boolean(n, "add_prefix_space", true));
    SHUO_ASSIGN(step.use_regex, r.boolean(n, "use_regex", true));
  } else if (type == "Metaspace") {
    step.kind = K::kMetaspace;
    SHUO_ASSIGN(step.replacement, r.string(n, "replacement"));
    if (step.replacement.empty())
      return r.error(Reader::child(n.path, "replacement"), "must not be empty");
    SHUO_ASSIGN(step.prepend_scheme, prepend_scheme(r, n));
    SHUO_ASSIGN(step.split, r.boolean(n, "split", true));
  } else if (type == "Digits") {
    step.kind = K::kDigits;
    SHUO_ASSIGN(step.individual_digits, r.boolean(n, "individual_digits", false));
  } else if (type == "WhitespaceSplit") {
    step.kind = K::kWhitespaceSplit;
  } else {
    return r.unsupported(Reader::child(n.path, "type"),
                         "pre-tokenizer \"" + type +
                             "\" is not supported (supported: Split, ByteLevel, Metaspace, Digits, "
                             "WhitespaceSplit, Sequence)");
  }
  out->push_back(std::move(step));
  return {};
}

// ---- decoder ----

Result<void> decoder(const Reader& r, const Node& n, std::vector<HfDecoder>* out, int depth = 0) {
  if (depth > kMaxNesting) return r.error(n.path, "Sequences are nested too deeply");
  SHUO_ASSIGN(std::string type, r.string(n, "type"));
  using K = HfDecoder::Kind;
  HfDecoder step;
  if (type == "Sequence") {
    SHUO_ASSIGN(const json* items, r.array(n, "decoders"));
    for (size_t i = 0; i < items->size(); ++i) {
      SHUO_ASSIGN(Node item, r.object((*items)[i], Reader::index(Reader::child(n.path, "decoders"), i)));
      SHUO_TRY(decoder(r, item, out, depth + 1));
    }
    return {};
  } else if (type == "Replace") {
    step.kind = K::kReplace;
    SHUO_ASSIGN(step.pattern, pattern(r, n, "pattern"));
    if (step.pattern.regex)
      return r.unsupported(Reader::child(n.path, "pattern"), "a Replace decoder with a regex is not supported");
    if (step.pattern.text.empty())
      return r.error(Reader::child(n.path, "pattern"), "must not be empty");
    SHUO_ASSIGN(step.content, r.string(n, "content"));
  } else if (type == "ByteFallback") {
    step.kind = K::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = K::kFuse;
  } else if (type == "Strip") {
    step.kind = K::kStrip;
    SHUO_ASSIGN(step.content, r.string(n, "content"));
    SHUO_ASSIGN(step.start, r.integer(n, "start", 0, kMaxId, 0));
    SHUO_ASSIGN(step.stop, r.integer(n, "stop", 0, kMaxId, 0));
  } else if (type == "ByteLevel") {
    step.kind = K::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = K::kMetaspace;
    SHUO_ASSIGN(step.replacement, r.string(n, "replacement"));
    if (step.replacement.empty())
      return r.error(Reader::child(n.path, "replacement"), "must not be empty");
    SHUO_ASSIGN(step.prepend_scheme, prepend_scheme(r, n));
  } else {
    return r.unsupported(Reader::child(n.path, "type"),
                         "decoder \"" + type +
                             "\" is not supported (supported: Replace, ByteFallback, Fuse, Strip, "
                             "ByteLevel, Metaspace, Sequence)");
  }
  out->push_back(std::move(step));
  return {};
}

// ---- post-processor ----

Result<void> post_processor(const Reader& r, const Node& n, HfTokenizerSpec* spec, int depth = 0) {
  if (depth > kMaxNesting) return r.error(n.path, "Sequences are nested too deeply");
  SHUO_ASSIGN(std::string type, r.string(n, "type"));
  if (type == "ByteLevel") return {};  // only offsets; adds no tokens
  if (type == "Sequence") {
    SHUO_ASSIGN(const json* items, r.array(n, "processors"));
    for (size_t i = 0; i < items->size(); ++i) {
      SHUO_ASSIGN(Node item, r.object((*items)[i], Reader::index(Reader::child(n.path, "processors"), i)));
      SHUO_TRY(post_processor(r, item, spec, depth + 1));
    }
    return {};
  }
  if (type == "TemplateProcessing") {
    // `single` is what encode(text, add_special_tokens=True) applies: special tokens around $A.
    SHUO_ASSIGN(const json* single, r.array(n, "single"));
    const std::string single_path = Reader::child(n.path, "single");
    bool seen_sequence = false;
    for (size_t i = 0; i < single->size(); ++i) {
      const std::string p = Reader::index(single_path, i);
      SHUO_ASSIGN(Node item, r.object((*single)[i], p));
      if (const json* st = r.opt(item, "SpecialToken")) {
        SHUO_ASSIGN(Node sn, r.object(*st, Reader::child(p, "SpecialToken")));
        SHUO_ASSIGN(std::string id, r.string(sn, "id"));
        (seen_sequence ? spec->suffix_tokens : spec->prefix_tokens).push_back(id);
      } else if (const json* seq = r.opt(item, "Sequence")) {
        SHUO_ASSIGN(Node sn, r.object(*seq, Reader::child(p, "Sequence")));
        SHUO_ASSIGN(std::string id, r.string(sn, "id"));
        if (id != "A") return r.error(Reader::child(sn.path, "id"), "must be \"A\" in `single`");
        if (seen_sequence) return r.error(p, "$A appears twice");
        seen_sequence = true;
      } else {
        return r.error(p, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
    if (!seen_sequence) return r.error(single_path, "has no {\"Sequence\": {\"id\": \"A\"}}");
    // special_tokens maps each name to its ids; shuo needs one token per name.
    if (const json* st = r.opt(n, "special_tokens")) {
      SHUO_ASSIGN(Node sn, r.object(*st, Reader::child(n.path, "special_tokens")));
      for (const auto* list : {&spec->prefix_tokens, &spec->suffix_tokens}) {
        for (const std::string& name : *list) {
          auto it = sn.v.find(name);
          if (it == sn.v.end()) continue;  // resolved by name later
          const std::string p = Reader::child(sn.path, name);
          SHUO_ASSIGN(Node tn, r.object(*it, p));
          SHUO_ASSIGN(const json* tokens, r.array(tn, "tokens"));
          if (tokens->size() != 1 || !(*tokens)[0].is_string() || (*tokens)[0].get<std::string>() != name)
            return r.unsupported(Reader::child(p, "tokens"),
                                 "special tokens that expand to other or several tokens are not supported");
        }
      }
    }
    return {};
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // [CLS] $A [SEP], both given as [text, id].
    for (const char* key : {"cls", "sep"}) {
      SHUO_ASSIGN(const json* pair, r.array(n, key));
      const std::string p = Reader::child(n.path, key);
      if (pair->size() != 2 || !(*pair)[0].is_string())
        return r.error(p, "must be [token text, id]");
      (std::string_view(key) == "cls" ? spec->prefix_tokens : spec->suffix_tokens)
          .push_back((*pair)[0].get<std::string>());
    }
    return {};
  }
  return r.unsupported(Reader::child(n.path, "type"),
                       "post-processor \"" + type +
                           "\" is not supported (supported: TemplateProcessing, ByteLevel, "
                           "BertProcessing, RobertaProcessing, Sequence)");
}

// ---- model ----

Result<void> model(const Reader& r, const Node& m, HfTokenizerSpec* spec) {
  SHUO_ASSIGN(std::optional<std::string> type, r.opt_string(m, "type"));
  if (type && *type != "BPE")
    return r.unsupported(Reader::child(m.path, "type"),
                         "tokenizer model \"" + *type + "\" is not supported (supported: BPE)");
  if (!type && !r.opt(m, "merges"))
    return r.unsupported(Reader::child(m.path, "type"), "is missing and the model has no merges (not BPE)");

  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    SHUO_ASSIGN(std::optional<std::string> s, r.opt_string(m, key));
    if (s && !s->empty())
      return r.unsupported(Reader::child(m.path, key), "a non-empty value is not supported");
  }
  if (const json* d = r.opt(m, "dropout")) {
    if (!d->is_number()) return r.error(Reader::child(m.path, "dropout"), "must be a number or null");
    if (d->get<double>() != 0.0)
      return r.unsupported(Reader::child(m.path, "dropout"), "BPE dropout is not supported");
  }
  SHUO_ASSIGN(spec->ignore_merges, r.boolean(m, "ignore_merges", false));
  SHUO_ASSIGN(spec->byte_fallback, r.boolean(m, "byte_fallback", false));
  SHUO_ASSIGN(spec->fuse_unk, r.boolean(m, "fuse_unk", false));
  SHUO_ASSIGN(spec->unk_token, r.opt_string(m, "unk_token"));

  SHUO_ASSIGN(Node vocab, r.member_object(m, "vocab"));
  spec->vocab.reserve(vocab.v.size());
  for (auto it = vocab.v.begin(); it != vocab.v.end(); ++it) {
    const std::string p = Reader::child(vocab.path, it.key());
    if (!it->is_number_integer()) return r.error(p, "must be an integer id, got " + Reader::type_name(*it));
    const auto id = it->get<int64_t>();
    if (id < 0 || id >= kMaxId) return r.error(p, "id " + std::to_string(id) + " is out of range");
    spec->vocab.emplace_back(it.key(), static_cast<int32_t>(id));
  }
  if (spec->vocab.empty()) return r.error(vocab.path, "is empty");

  SHUO_ASSIGN(const json* merges, r.array(m, "merges"));
  const std::string mp = Reader::child(m.path, "merges");
  spec->merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    const json& e = (*merges)[i];
    if (e.is_string()) {  // "left right": exactly one space (tokens never hold one in this form)
      const auto& s = e.get_ref<const std::string&>();
      const size_t sep = s.find(' ');
      if (sep == std::string::npos || s.find(' ', sep + 1) != std::string::npos)
        return r.error(Reader::index(mp, i), "merge \"" + s + "\" is not two tokens separated by one space");
      spec->merges.emplace_back(s.substr(0, sep), s.substr(sep + 1));
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      spec->merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    } else {
      return r.error(Reader::index(mp, i), "must be \"left right\" or [\"left\", \"right\"]");
    }
  }
  return {};
}

Result<void> added_tokens(const Reader& r, const Node& root, HfTokenizerSpec* spec) {
  const json* list = r.opt(root, "added_tokens");
  if (!list) return {};
  if (!list->is_array()) return r.error("added_tokens", "must be an array, got " + Reader::type_name(*list));
  for (size_t i = 0; i < list->size(); ++i) {
    SHUO_ASSIGN(Node t, r.object((*list)[i], Reader::index("added_tokens", i)));
    HfAddedToken a;
    SHUO_ASSIGN(a.id, r.integer(t, "id", 0, kMaxId - 1, std::nullopt));
    SHUO_ASSIGN(a.content, r.string(t, "content"));
    if (a.content.empty()) return r.error(Reader::child(t.path, "content"), "must not be empty");
    SHUO_ASSIGN(a.special, r.boolean(t, "special", false));
    SHUO_ASSIGN(a.lstrip, r.boolean(t, "lstrip", false));
    SHUO_ASSIGN(a.rstrip, r.boolean(t, "rstrip", false));
    SHUO_ASSIGN(a.single_word, r.boolean(t, "single_word", false));
    SHUO_ASSIGN(a.normalized, r.boolean(t, "normalized", !a.special));
    spec->added_tokens.push_back(std::move(a));
  }
  return {};
}

// bos_token etc.: a string, null, or an AddedToken object {"content": ...}.
Result<std::optional<std::string>> token_string(const Reader& r, const Node& cfg, std::string_view key) {
  const json* v = r.opt(cfg, key);
  if (!v) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->get<std::string>());
  const std::string p = Reader::child(cfg.path, key);
  if (v->is_object()) {
    SHUO_ASSIGN(Node o, r.object(*v, p));
    SHUO_ASSIGN(std::string content, r.string(o, "content"));
    return std::optional<std::string>(std::move(content));
  }
  return r.error(p, "must be a string, an object with \"content\", or null; got " + Reader::type_name(*v));
}

}  // namespace

Result<HfTokenizerSpec> parse_hf_tokenizer_json(std::string_view json_text, const std::string& source) {
  Reader r(source);
  SHUO_ASSIGN(json doc, parse_json(json_text, r));
  SHUO_ASSIGN(Node root, r.object(doc, ""));
  HfTokenizerSpec spec;
  SHUO_ASSIGN(Node m, r.member_object(root, "model"));
  SHUO_TRY(model(r, m, &spec));
  SHUO_TRY(added_tokens(r, root, &spec));
  if (const json* n = r.opt(root, "normalizer")) {
    SHUO_ASSIGN(Node nn, r.object(*n, "normalizer"));
    SHUO_TRY(normalizer(r, nn, &spec.normalizers));
  }
  if (const json* p = r.opt(root, "pre_tokenizer")) {
    SHUO_ASSIGN(Node pn, r.object(*p, "pre_tokenizer"));
    SHUO_TRY(pre_tokenizer(r, pn, &spec.pre_tokenizers));
  }
  if (const json* p = r.opt(root, "post_processor")) {
    SHUO_ASSIGN(Node pn, r.object(*p, "post_processor"));
    SHUO_TRY(post_processor(r, pn, &spec));
  }
  if (const json* d = r.opt(root, "decoder")) {
    SHUO_ASSIGN(Node dn, r.object(*d, "decoder"));
    SHUO_TRY(decoder(r, dn, &spec.decoders));
  }
  return spec;
}

Result<void> parse_hf_tokenizer_config(std::string_view json_text, HfTokenizerSpec* spec,
                                       const std::string& source) {
  Reader r(source);
  SHUO_ASSIGN(json doc, parse_json(json_text, r));
  SHUO_ASSIGN(Node cfg, r.object(doc, ""));
  SHUO_ASSIGN(spec->bos_token, token_string(r, cfg, "bos_token"));
  SHUO_ASSIGN(spec->eos_token, token_string(r, cfg, "eos_token"));
  SHUO_ASSIGN(spec->unk_token_config, token_string(r, cfg, "unk_token"));
  SHUO_ASSIGN(spec->pad_token, token_string(r, cfg, "pad_token"));
  for (auto [key, field] : {std::pair{"add_bos_token", &spec->add_bos_token},
                            std::pair{"add_eos_token", &spec->add_eos_token}}) {
    if (const json* v = r.opt(cfg, key)) {
      if (!v->is_boolean()) return r.error(key, "must be a boolean, got " + Reader::type_name(*v));
      *field = v->get<bool>();
    }
  }
  if (const json* t = r.opt(cfg, "chat_template")) {
    spec->chat_templates.clear();
    if (t->is_string()) {
      spec->chat_templates.emplace_back("default", t->get<std::string>());
    } else if (t->is_array()) {  // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
      for (size_t i = 0; i < t->size(); ++i) {
        SHUO_ASSIGN(Node e, r.object((*t)[i], Reader::index("chat_template", i)));
        SHUO_ASSIGN(std::string name, r.string(e, "name"));
        SHUO_ASSIGN(std::string text, r.string(e, "template"));
        spec->chat_templates.emplace_back(std::move(name), std::move(text));
      }
    } else {
      return r.error("chat_template", "must be a string or a list of {name, template}, got " +
                                          Reader::type_name(*t));
    }
  }
  return {};
}

}  // namespace shuo::text
