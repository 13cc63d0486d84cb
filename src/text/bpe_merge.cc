#include "text/bpe_merge.h"

#include <algorithm>

namespace shuo::text {

namespace {
struct RankAfter {  // std heaps are max-heaps: this makes them pop the lowest rank, then leftmost
  bool operator()(const BpeCandidate& a, const BpeCandidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};
}  // namespace

void bpe_merge(std::vector<BpeSymbol>& sym, const PairTable<BpeMergeRule>& merges, std::vector<BpeCandidate>& heap) {
  heap.clear();
  if (sym.empty()) return;
  auto try_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t a = sym[left].id, b = sym[right].id;
    if (a < 0 || b < 0) return;
    const BpeMergeRule* m = merges.find(a, b);
    if (!m) return;
    heap.push_back({m->rank, left, right, a, b, m->merged_id});
    std::push_heap(heap.begin(), heap.end(), RankAfter{});
  };
  for (int32_t i = 0; i >= 0 && sym[i].next >= 0; i = sym[i].next) try_pair(i, sym[i].next);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), RankAfter{});
    const BpeCandidate p = heap.back();
    heap.pop_back();
    BpeSymbol& l = sym[p.left];
    BpeSymbol& r = sym[p.right];
    if (l.next != p.right || l.id != p.left_id || r.id != p.right_id) continue;
    l.id = p.merged_id;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = p.left;
    r.id = -1;
    r.next = r.prev = -1;
    try_pair(l.prev, p.left);
    try_pair(p.left, l.next);
  }
}

}  // namespace shuo::text
