// DecoderModel: loading by GGUF tensor names and the batched forward pass (see decoder.h).
#include "model/decoder.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <thread>

#include "kernels/attention.h"
#include "model/weights.h"

namespace shuo::model {

namespace {
std::string blk(int i, const char* what) { return "blk." + std::to_string(i) + "." + what; }

void resize(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}
}  // namespace

Result<std::unique_ptr<DecoderModel>> DecoderModel::build(const format::GgufFile& f, ModelConfig c,
                                                         const LoadOptions& opts) {
  auto m = std::unique_ptr<DecoderModel>(new DecoderModel());
  m->kernels_ = opts.reference_kernels ? kernels::vec_dot_kernels_ref()
                                       : kernels::select_vec_dot_kernels(kernels::detect_cpu_features());
  m->attention_ = opts.reference_kernels ? kernels::attention_ref
                                         : kernels::select_attention(kernels::detect_cpu_features());
  m->swiglu_ = !opts.reference_kernels && kernels::detect_cpu_features().has_avx512() ? kernels::swiglu_avx512
                                                                                       : kernels::swiglu_ref;
  const int64_t E = c.n_embd, F = c.n_ff;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;

  const auto* emb = f.find_tensor("token_embd.weight");
  if (!emb) return Error{ErrorCode::kNotFound, "token_embd.weight", "tensor is missing in " + f.path()};
  if (emb->ne.size() != 2) return Error{ErrorCode::kBadFile, "token_embd.weight", "must be 2-D"};
  if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 22)) return Error{ErrorCode::kBadFile, "token_embd.weight", "vocabulary size out of range"};
  c.n_vocab = static_cast<int32_t>(emb->ne[1]);
  SHUO_ASSIGN(m->tok_embd_, load_matrix(f, "token_embd.weight", c.n_vocab, E));
  SHUO_ASSIGN(m->output_norm_, load_vector(f, "output_norm.weight", E));
  if (f.find_tensor("output.weight")) {
    SHUO_ASSIGN(m->output_, load_matrix(f, "output.weight", c.n_vocab, E));
  } else {
    c.tied_embeddings = true;
    m->output_ = m->tok_embd_;
  }

  m->layers_.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    Layer& L = m->layers_[i];
    SHUO_ASSIGN(L.attn_norm, load_vector(f, blk(i, "attn_norm.weight"), E));
    SHUO_ASSIGN(L.wq, load_matrix(f, blk(i, "attn_q.weight"), QD, E));
    SHUO_ASSIGN(L.wk, load_matrix(f, blk(i, "attn_k.weight"), KD, E));
    SHUO_ASSIGN(L.wv, load_matrix(f, blk(i, "attn_v.weight"), KD, E));
    SHUO_ASSIGN(L.wo, load_matrix(f, blk(i, "attn_output.weight"), E, QD));
    if (c.has_qkv_bias) {
      SHUO_ASSIGN(L.bq, load_vector(f, blk(i, "attn_q.bias"), QD));
      SHUO_ASSIGN(L.bk, load_vector(f, blk(i, "attn_k.bias"), KD));
      SHUO_ASSIGN(L.bv, load_vector(f, blk(i, "attn_v.bias"), KD));
    }
    SHUO_ASSIGN(L.ffn_norm, load_vector(f, blk(i, "ffn_norm.weight"), E));
    SHUO_ASSIGN(L.ffn_gate, load_matrix(f, blk(i, "ffn_gate.weight"), F, E));
    SHUO_ASSIGN(L.ffn_up, load_matrix(f, blk(i, "ffn_up.weight"), F, E));
    SHUO_ASSIGN(L.ffn_down, load_matrix(f, blk(i, "ffn_down.weight"), E, F));
  }

  // Llama 3 stores per-dimension frequency divisors as a tensor.
  std::vector<float> factors;
  if (f.find_tensor("rope_freqs.weight")) {
    SHUO_ASSIGN(factors, load_vector(f, "rope_freqs.weight", c.rope_dims / 2));
  }
  if (opts.pack_weights && !opts.reference_kernels && m->kernels_.gemm_packed) {
    // Every matrix a forward pass multiplies with, the LM head included. A tied LM head is a
    // copy of token_embd's view: packing it releases token_embd's pages too, and embedding
    // lookups (tok_embd_, still the stored layout) page the few rows they read back in.
    std::vector<kernels::WeightMatrix*> mats;
    for (Layer& L : m->layers_)
      for (kernels::WeightMatrix* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
        mats.push_back(w);
    mats.push_back(&m->output_);
    m->packed_.pack(mats, f, int(std::max(1u, std::thread::hardware_concurrency())));
  }
  m->rope_ = kernels::make_rope_table(c.rope_dims, c.rope_base, c.rope_freq_scale, c.rope_layout, factors);
  m->config_ = std::move(c);
  return m;
}

void DecoderModel::embed(std::span<const SeqChunk> chunks) {
  const int64_t E = config_.n_embd;
  int64_t row = 0;
  for (const auto& ch : chunks)
    for (int32_t id : ch.tokens) kernels::row_to_float(tok_embd_, id, x_.data() + row++ * E);
}

Result<void> DecoderModel::forward(std::span<const SeqChunk> chunks, ForwardOutput& out,
                                   tensor::ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd, F = c.n_ff, V = c.n_vocab;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;

  // Validate the whole batch before touching any cache.
  int64_t N = 0, n_out = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& ch = chunks[i];
    if (!ch.kv) return Error{ErrorCode::kInternal, "forward", "chunk without a cache"};
    if (ch.tokens.empty()) return Error{ErrorCode::kBadField, "tokens", "empty chunk"};
    if (int64_t(ch.kv->n_past()) + int64_t(ch.tokens.size()) > ch.kv->capacity())
      return Error{ErrorCode::kLimit, "context", "sequence needs " + std::to_string(ch.kv->n_past() + ch.tokens.size()) +
                                                     " positions, cache holds " + std::to_string(ch.kv->capacity())};
    // A shared block is someone else's state too: forks must copy it first (prepare_append).
    if (!ch.kv->writable(int32_t(ch.tokens.size())))
      return Error{ErrorCode::kInternal, "forward", "chunk would write into a KV block that another sequence holds"};
    for (int32_t id : ch.tokens)
      if (id < 0 || id >= V) return Error{ErrorCode::kBadField, "tokens", "token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(V) + ")"};
    N += int64_t(ch.tokens.size());
    n_out += ch.no_logits ? 0 : ch.all_logits ? int64_t(ch.tokens.size()) : 1;
  }

  resize(x_, N * E); resize(h_, N * E); resize(tmp_, N * E);
  resize(q_, N * QD); resize(attn_, N * QD);
  resize(k_, N * KD); resize(v_, N * KD);
  resize(gate_, N * F); resize(up_, N * F);
  pos_.resize(N);
  {
    int64_t row = 0;
    for (const auto& ch : chunks)
      for (size_t t = 0; t < ch.tokens.size(); ++t) pos_[row++] = ch.kv->n_past() + int32_t(t);
  }

  embed(chunks);
  // RoPE angles depend only on the position: once per token, shared by every head and layer.
  resize(rope_cs_, N * c.rope_dims);
  for (int64_t t = 0; t < N; ++t) kernels::rope_cos_sin(rope_, pos_[t], &rope_cs_[t * c.rope_dims]);
  kernels::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, 1.0f / std::sqrt(float(c.head_dim))};

  for (int l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers_[l];
    // --- attention ---
    for (int64_t t = 0; t < N; ++t) kernels::rmsnorm_ref(&x_[t * E], L.attn_norm.data(), E, c.norm_eps, &h_[t * E]);
    mm(L.wq, h_.data(), N, q_.data(), pool);
    mm(L.wk, h_.data(), N, k_.data(), pool);
    mm(L.wv, h_.data(), N, v_.data(), pool);
    for (int64_t t = 0; t < N; ++t) {
      if (!L.bq.empty()) {
        kernels::add_ref(&q_[t * QD], L.bq.data(), QD);
        kernels::add_ref(&k_[t * KD], L.bk.data(), KD);
        kernels::add_ref(&v_[t * KD], L.bv.data(), KD);
      }
      kernels::rope_apply(&q_[t * QD], c.n_head, c.head_dim, &rope_cs_[t * c.rope_dims], rope_);
      kernels::rope_apply(&k_[t * KD], c.n_head_kv, c.head_dim, &rope_cs_[t * c.rope_dims], rope_);
    }
    int64_t row = 0;
    for (const auto& ch : chunks) {
      const int32_t pos0 = ch.kv->n_past();
      const int64_t n = int64_t(ch.tokens.size());
      for (int64_t t = 0; t < n; ++t) {
        std::memcpy(ch.kv->k(l, pos0 + int32_t(t)), &k_[(row + t) * KD], KD * sizeof(float));
        std::memcpy(ch.kv->v(l, pos0 + int32_t(t)), &v_[(row + t) * KD], KD * sizeof(float));
      }
      kb_.clear();
      vb_.clear();
      for (int32_t b : ch.kv->blocks()) {
        kb_.push_back(ch.kv->pool().k(b, l));
        vb_.push_back(ch.kv->pool().v(b, l));
      }
      attention_(&q_[row * QD], n, pos0, kernels::KvBlocksView{kb_.data(), vb_.data(), ch.kv->block_size()},
                             shape, &attn_[row * QD], pool);
      row += n;
    }
    mm(L.wo, attn_.data(), N, tmp_.data(), pool);
    kernels::add_ref(x_.data(), tmp_.data(), N * E);

    // --- feed-forward ---
    for (int64_t t = 0; t < N; ++t) kernels::rmsnorm_ref(&x_[t * E], L.ffn_norm.data(), E, c.norm_eps, &h_[t * E]);
    mm(L.ffn_gate, h_.data(), N, gate_.data(), pool);
    mm(L.ffn_up, h_.data(), N, up_.data(), pool);
    pool.parallel_for(
        N,
        [&](int64_t t0, int64_t t1, int) {
          swiglu_(gate_.data() + t0 * F, up_.data() + t0 * F, (t1 - t0) * F, gate_.data() + t0 * F);
        },
        4);
    mm(L.ffn_down, gate_.data(), N, tmp_.data(), pool);
    kernels::add_ref(x_.data(), tmp_.data(), N * E);
  }

  // --- LM head, only on the rows that want logits ---
  out.chunk_offset.resize(chunks.size());
  int64_t row = 0, o = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& ch = chunks[i];
    const int64_t n = int64_t(ch.tokens.size());
    out.chunk_offset[i] = o;
    for (int64_t t = ch.no_logits ? n : ch.all_logits ? 0 : n - 1; t < n; ++t)
      kernels::rmsnorm_ref(&x_[(row + t) * E], output_norm_.data(), E, c.norm_eps, &h_[o++ * E]);
    row += n;
  }
  if (out.logits.size() < size_t(n_out * V)) out.logits.resize(n_out * V);
  if (n_out > 0) mm(output_, h_.data(), n_out, out.logits.data(), pool);

  // --- final-normed hidden states of the chunks that ask (embeddings) ---
  out.hidden_offset.resize(chunks.size());
  int64_t n_hidden = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    out.hidden_offset[i] = n_hidden;
    if (chunks[i].hidden) n_hidden += int64_t(chunks[i].tokens.size());
  }
  if (out.hidden.size() < size_t(n_hidden * E)) out.hidden.resize(n_hidden * E);
  row = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const int64_t n = int64_t(chunks[i].tokens.size());
    if (chunks[i].hidden)
      for (int64_t t = 0; t < n; ++t)
        kernels::rmsnorm_ref(&x_[(row + t) * E], output_norm_.data(), E, c.norm_eps,
                             &out.hidden[(out.hidden_offset[i] + t) * E]);
    row += n;
  }

  for (const auto& ch : chunks) ch.kv->set_n_past(ch.kv->n_past() + int32_t(ch.tokens.size()));
  return {};
}

}  // namespace shuo::model
