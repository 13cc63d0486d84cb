// DecoderModel: the llama-family loader, weight checks and the batched forward pass (decoder.h).
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

Result<void> load_embedding_and_head(const format::GgufFile& f, ModelConfig& c, DecoderWeights& w) {
  const int64_t E = c.n_embd;
  const auto* emb = f.find_tensor("token_embd.weight");
  if (!emb) return Error{ErrorCode::kNotFound, "token_embd.weight", "tensor is missing in " + f.path()};
  if (emb->ne.size() != 2) return Error{ErrorCode::kBadFile, "token_embd.weight", "must be 2-D"};
  if (emb->ne[1] <= 0 || emb->ne[1] > (1 << 22)) return Error{ErrorCode::kBadFile, "token_embd.weight", "vocabulary size out of range"};
  c.n_vocab = static_cast<int32_t>(emb->ne[1]);
  SHUO_ASSIGN(w.tok_embd, load_matrix(f, "token_embd.weight", c.n_vocab, E));
  SHUO_ASSIGN(w.output_norm, load_norm(f, "output_norm", E, c.norm == NormKind::kLayer));
  if (f.find_tensor("output.weight")) {
    SHUO_ASSIGN(w.output, load_matrix(f, "output.weight", c.n_vocab, E));
  } else {
    c.tied_embeddings = true;
    w.output = w.tok_embd;
  }
  return {};
}

Result<std::unique_ptr<DecoderModel>> DecoderModel::build(const format::GgufFile& f, ModelConfig c,
                                                         const LoadOptions& opts) {
  const int64_t E = c.n_embd, F = c.n_ff;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;
  DecoderWeights w;
  SHUO_TRY(load_embedding_and_head(f, c, w));
  w.layers.resize(c.n_layer);
  for (int i = 0; i < c.n_layer; ++i) {
    LayerWeights& L = w.layers[i];
    SHUO_ASSIGN(L.attn_norm, load_norm(f, blk(i, "attn_norm"), E, false));
    SHUO_ASSIGN(L.wq, load_matrix(f, blk(i, "attn_q.weight"), QD, E));
    SHUO_ASSIGN(L.wk, load_matrix(f, blk(i, "attn_k.weight"), KD, E));
    SHUO_ASSIGN(L.wv, load_matrix(f, blk(i, "attn_v.weight"), KD, E));
    SHUO_ASSIGN(L.wo, load_matrix(f, blk(i, "attn_output.weight"), E, QD));
    if (c.has_qkv_bias) {
      SHUO_ASSIGN(L.bq, load_vector(f, blk(i, "attn_q.bias"), QD));
      SHUO_ASSIGN(L.bk, load_vector(f, blk(i, "attn_k.bias"), KD));
      SHUO_ASSIGN(L.bv, load_vector(f, blk(i, "attn_v.bias"), KD));
    }
    SHUO_ASSIGN(L.ffn_norm, load_norm(f, blk(i, "ffn_norm"), E, false));
    SHUO_ASSIGN(L.ffn_gate, load_matrix(f, blk(i, "ffn_gate.weight"), F, E));
    SHUO_ASSIGN(L.ffn_up, load_matrix(f, blk(i, "ffn_up.weight"), F, E));
    SHUO_ASSIGN(L.ffn_down, load_matrix(f, blk(i, "ffn_down.weight"), E, F));
  }
  // Llama 3 stores per-dimension frequency divisors as a tensor.
  if (f.find_tensor("rope_freqs.weight")) {
    SHUO_ASSIGN(w.rope_factors, load_vector(f, "rope_freqs.weight", c.rope_dims / 2));
  }
  return create(f, std::move(c), std::move(w), opts);
}

namespace {
// Architecture files load with load_matrix, which checks shapes; this is the decoder's own
// guard that what it was handed fits the configuration it will index with.
Result<void> check_matrix(const kernels::WeightMatrix& m, int64_t rows, int64_t cols, const char* what) {
  if (!m.data || m.rows != rows || m.cols != cols)
    return Error{ErrorCode::kBadFile, m.name.empty() ? what : m.name,
                 std::string(what) + " is [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                     "], the configuration needs [" + std::to_string(rows) + ", " + std::to_string(cols) + "]"};
  return {};
}
Result<void> check_vector(const std::vector<float>& v, int64_t n, bool required, const char* what) {
  if (v.empty() && !required) return {};
  if (int64_t(v.size()) != n)
    return Error{ErrorCode::kBadFile, what, "has " + std::to_string(v.size()) + " elements, the configuration needs " + std::to_string(n)};
  return {};
}
Result<void> check_norm(const NormWeights& n, int64_t E, const ModelConfig& c, const char* what) {
  SHUO_TRY(check_vector(n.w, E, true, what));
  if (c.norm == NormKind::kRms && !n.b.empty()) return Error{ErrorCode::kInternal, what, "RMSNorm has no bias"};
  return check_vector(n.b, E, false, what);
}
}  // namespace

Result<std::unique_ptr<DecoderModel>> DecoderModel::create(const format::GgufFile& f, ModelConfig c,
                                                          DecoderWeights w, const LoadOptions& opts) {
  const int64_t E = c.n_embd, F = c.n_ff;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;
  SHUO_TRY(check_matrix(w.tok_embd, c.n_vocab, E, "token_embd"));
  SHUO_TRY(check_matrix(w.output, c.n_vocab, E, "output"));
  SHUO_TRY(check_norm(w.output_norm, E, c, "output_norm"));
  if (c.positions == PositionKind::kLearned) SHUO_TRY(check_matrix(w.pos_embd, c.n_ctx_train, E, "position_embd"));
  if (int64_t(w.layers.size()) != c.n_layer)
    return Error{ErrorCode::kInternal, "layers", std::to_string(w.layers.size()) + " layers for block_count " + std::to_string(c.n_layer)};
  for (const LayerWeights& L : w.layers) {
    SHUO_TRY(check_norm(L.attn_norm, E, c, "attn_norm"));
    SHUO_TRY(check_norm(L.ffn_norm, E, c, "ffn_norm"));
    SHUO_TRY(check_matrix(L.wq, QD, E, "attn_q"));
    SHUO_TRY(check_matrix(L.wk, KD, E, "attn_k"));
    SHUO_TRY(check_matrix(L.wv, KD, E, "attn_v"));
    SHUO_TRY(check_matrix(L.wo, E, QD, "attn_output"));
    if (c.ffn == FfnKind::kSwiglu) SHUO_TRY(check_matrix(L.ffn_gate, F, E, "ffn_gate"));
    SHUO_TRY(check_matrix(L.ffn_up, F, E, "ffn_up"));
    SHUO_TRY(check_matrix(L.ffn_down, E, F, "ffn_down"));
    SHUO_TRY(check_vector(L.bq, QD, false, "attn_q.bias"));
    SHUO_TRY(check_vector(L.bk, KD, false, "attn_k.bias"));
    SHUO_TRY(check_vector(L.bv, KD, false, "attn_v.bias"));
    SHUO_TRY(check_vector(L.bo, E, false, "attn_output.bias"));
    SHUO_TRY(check_vector(L.b_up, F, false, "ffn_up.bias"));
    SHUO_TRY(check_vector(L.b_down, E, false, "ffn_down.bias"));
  }

  auto m = std::unique_ptr<DecoderModel>(new DecoderModel());
  const auto cpu = kernels::detect_cpu_features();
  const bool avx512 = !opts.reference_kernels && cpu.has_avx512();
  const bool avx2 = !opts.reference_kernels && cpu.has_avx2_fma();
  m->kernels_ = opts.reference_kernels ? kernels::vec_dot_kernels_ref() : kernels::select_vec_dot_kernels(cpu);
  m->attention_ = opts.reference_kernels ? kernels::attention_ref : kernels::select_attention(cpu);
  m->swiglu_ = avx512 ? kernels::swiglu_avx512 : avx2 ? kernels::swiglu_avx2 : kernels::swiglu_ref;
  m->gelu_ = avx512 ? kernels::gelu_avx512 : avx2 ? kernels::gelu_avx2 : kernels::gelu_ref;

  if (opts.pack_weights && !opts.reference_kernels && m->kernels_.gemm_packed) {
    // Every matrix a forward pass multiplies with, the LM head included. A tied LM head is a
    // copy of token_embd's view: packing it releases token_embd's pages too, and embedding
    // lookups (tok_embd, still the stored layout) page the few rows they read back in. Slices
    // of a fused tensor are packed each on its own.
    std::vector<kernels::WeightMatrix*> mats;
    for (LayerWeights& L : w.layers) {
      for (kernels::WeightMatrix* x : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_up, &L.ffn_down}) mats.push_back(x);
      if (c.ffn == FfnKind::kSwiglu) mats.push_back(&L.ffn_gate);
    }
    mats.push_back(&w.output);
    m->packed_.pack(mats, f, m->kernels_, int(std::max(1u, std::thread::hardware_concurrency())));
  }
  if (c.positions == PositionKind::kRope)
    m->rope_ = kernels::make_rope_table(c.rope_dims, c.rope_base, c.rope_freq_scale, c.rope_layout, w.rope_factors);
  m->w_ = std::move(w);
  m->config_ = std::move(c);
  return m;
}

void DecoderModel::embed(std::span<const SeqChunk> chunks, int64_t n_tokens) {
  const int64_t E = config_.n_embd;
  int64_t row = 0;
  for (const auto& ch : chunks)
    for (int32_t id : ch.tokens) kernels::row_to_float(w_.tok_embd, id, x_.data() + row++ * E);
  if (config_.positions == PositionKind::kLearned) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      kernels::row_to_float(w_.pos_embd, pos_[t], tmp_.data());
      kernels::add_ref(&x_[t * E], tmp_.data(), E);
    }
  }
}

void DecoderModel::norm(const NormWeights& w, const float* x, int64_t n, float* out) const {
  const int64_t E = config_.n_embd;
  for (int64_t t = 0; t < n; ++t) {
    if (config_.norm == NormKind::kLayer) {
      kernels::layernorm_ref(x + t * E, w.w.data(), w.b.empty() ? nullptr : w.b.data(), E, config_.norm_eps, out + t * E);
    } else {
      kernels::rmsnorm_ref(x + t * E, w.w.data(), E, config_.norm_eps, out + t * E);
    }
  }
}

void DecoderModel::mm(const kernels::WeightMatrix& w, const std::vector<float>& b, const float* x, int64_t n,
                      float* y, tensor::ThreadPool& pool) {
  kernels::matmul(w, x, n, y, pool, kernels_, mm_scratch_);
  if (!b.empty())
    for (int64_t t = 0; t < n; ++t) kernels::add_ref(y + t * w.rows, b.data(), w.rows);
}

Result<void> DecoderModel::forward(std::span<const SeqChunk> chunks, ForwardOutput& out,
                                   tensor::ThreadPool& pool) {
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd, F = c.n_ff, V = c.n_vocab;
  const int64_t QD = int64_t(c.n_head) * c.head_dim, KD = int64_t(c.n_head_kv) * c.head_dim;
  const bool rope = c.positions == PositionKind::kRope;

  // Validate the whole batch before touching any cache.
  int64_t N = 0, n_out = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& ch = chunks[i];
    if (!ch.kv) return Error{ErrorCode::kInternal, "forward", "chunk without a cache"};
    if (ch.tokens.empty()) return Error{ErrorCode::kBadField, "tokens", "empty chunk"};
    const int64_t end = int64_t(ch.kv->n_past()) + int64_t(ch.tokens.size());
    if (end > ch.kv->capacity())
      return Error{ErrorCode::kLimit, "context", "sequence needs " + std::to_string(end) +
                                                     " positions, cache holds " + std::to_string(ch.kv->capacity())};
    // Learned positions end where the table does; there is nothing to extrapolate with.
    if (!rope && end > c.n_ctx_train)
      return Error{ErrorCode::kLimit, "context", "sequence needs " + std::to_string(end) + " positions, " + c.arch +
                                                     " has learned positions for " + std::to_string(c.n_ctx_train)};
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
  resize(up_, N * F);
  if (c.ffn == FfnKind::kSwiglu) resize(gate_, N * F);
  pos_.resize(N);
  {
    int64_t row = 0;
    for (const auto& ch : chunks)
      for (size_t t = 0; t < ch.tokens.size(); ++t) pos_[row++] = ch.kv->n_past() + int32_t(t);
  }

  embed(chunks, N);
  // RoPE angles depend only on the position: once per token, shared by every head and layer.
  if (rope) {
    resize(rope_cs_, N * c.rope_dims);
    for (int64_t t = 0; t < N; ++t) kernels::rope_cos_sin(rope_, pos_[t], &rope_cs_[t * c.rope_dims]);
  }
  kernels::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, 1.0f / std::sqrt(float(c.head_dim))};

  for (int l = 0; l < c.n_layer; ++l) {
    const LayerWeights& L = w_.layers[l];
    // --- attention ---
    norm(L.attn_norm, x_.data(), N, h_.data());
    mm(L.wq, L.bq, h_.data(), N, q_.data(), pool);
    mm(L.wk, L.bk, h_.data(), N, k_.data(), pool);
    mm(L.wv, L.bv, h_.data(), N, v_.data(), pool);
    if (rope) {
      for (int64_t t = 0; t < N; ++t) {
        kernels::rope_apply(&q_[t * QD], c.n_head, c.head_dim, &rope_cs_[t * c.rope_dims], rope_);
        kernels::rope_apply(&k_[t * KD], c.n_head_kv, c.head_dim, &rope_cs_[t * c.rope_dims], rope_);
      }
    }
    int64_t row = 0;
    for (const auto& ch : chunks) {
      const int32_t pos0 = ch.kv->n_past();
      const int64_t n = int64_t(ch.tokens.size());
      for (int64_t t = 0; t < n; ++t) {
        kernels::kv_store_row(&k_[(row + t) * KD], KD, ch.kv->type(), ch.kv->k(l, pos0 + int32_t(t)));
        kernels::kv_store_row(&v_[(row + t) * KD], KD, ch.kv->type(), ch.kv->v(l, pos0 + int32_t(t)));
      }
      kb_.clear();
      vb_.clear();
      for (int32_t b : ch.kv->blocks()) {
        kb_.push_back(ch.kv->pool().k(b, l));
        vb_.push_back(ch.kv->pool().v(b, l));
      }
      attention_(&q_[row * QD], n, pos0, kernels::KvBlocksView{kb_.data(), vb_.data(), ch.kv->block_size(), ch.kv->type()},
                             shape, &attn_[row * QD], pool);
      row += n;
    }
    mm(L.wo, L.bo, attn_.data(), N, tmp_.data(), pool);
    kernels::add_ref(x_.data(), tmp_.data(), N * E);

    // --- feed-forward ---
    norm(L.ffn_norm, x_.data(), N, h_.data());
    mm(L.ffn_up, L.b_up, h_.data(), N, up_.data(), pool);
    if (c.ffn == FfnKind::kSwiglu) {
      mm(L.ffn_gate, {}, h_.data(), N, gate_.data(), pool);
      pool.parallel_for(
          N,
          [&](int64_t t0, int64_t t1, int) {
            swiglu_(gate_.data() + t0 * F, up_.data() + t0 * F, (t1 - t0) * F, gate_.data() + t0 * F);
          },
          4);
    } else {
      pool.parallel_for(
          N, [&](int64_t t0, int64_t t1, int) { gelu_(up_.data() + t0 * F, (t1 - t0) * F, up_.data() + t0 * F); }, 4);
    }
    mm(L.ffn_down, L.b_down, c.ffn == FfnKind::kSwiglu ? gate_.data() : up_.data(), N, tmp_.data(), pool);
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
      norm(w_.output_norm, &x_[(row + t) * E], 1, &h_[o++ * E]);
    row += n;
  }
  if (out.logits.size() < size_t(n_out * V)) out.logits.resize(n_out * V);
  if (n_out > 0) mm(w_.output, {}, h_.data(), n_out, out.logits.data(), pool);

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
    if (chunks[i].hidden) norm(w_.output_norm, &x_[row * E], n, &out.hidden[out.hidden_offset[i] * E]);
    row += n;
  }

  for (const auto& ch : chunks) ch.kv->set_n_past(ch.kv->n_past() + int32_t(ch.tokens.size()));
  return {};
}

}  // namespace shuo::model
