// Rank-ordered BPE merging, shared by the GGUF BPE tokenizer (tokenizer_bpe.cc) and the
// tokenizer.json one (hf_tokenizer.cc): the symbols of one word form a linked list, and the
// adjacent pair with the lowest merge rank (leftmost on ties) is merged until no pair has a
// merge. A heap of candidate pairs keeps it O(n log n); entries made stale by an earlier merge
// are recognised on pop by their recorded ids.
#pragma once

#include <cstdint>
#include <vector>

#include "text/pair_table.h"

namespace shuo::text {

struct BpeMergeRule {
  int32_t rank;
  int32_t merged_id;
};

struct BpeSymbol {
  int32_t prev, next;
  int32_t id;  // current token; -1: no token (never merged)
};

struct BpeCandidate {
  int32_t rank;
  int32_t left, right;
  int32_t left_id, right_id;  // ids when queued; a mismatch on pop means stale
  int32_t merged_id;
};

// Merges `sym` in place. The list starts at index 0 with prev/next links set; `heap` is
// scratch reused across calls. Afterwards the word's tokens are the ids along the list.
void bpe_merge(std::vector<BpeSymbol>& sym, const PairTable<BpeMergeRule>& merges, std::vector<BpeCandidate>& heap);

}  // namespace shuo::text
