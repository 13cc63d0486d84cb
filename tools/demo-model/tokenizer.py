"""A SentencePiece-style vocab (GGUF tokenizer.ggml.model = "llama") and its encoder.

Vocab layout: <unk> <s> </s>, the chat control tokens, <0x00>..<0xFF> byte-fallback tokens,
every character of the data, then merged pieces learned BPE-style from training chats (score =
minus the merge rank, so earlier merges win). Spaces are "▁" and pieces only start with them, so
text can be cut before each "▁" like shuo does.

`encode` is the algorithm of shuo's src/text/tokenizer_spm.cc (and llama.cpp's): start from the
characters, repeatedly merge the adjacent pair whose concatenation is a vocab piece with the
highest score (ties: leftmost), unknown characters become their bytes. Written plainly (quadratic
in a chunk, chunks are short); the C++ test checks both give the same ids.
"""
import collections
import json

SPACE = "\u2581"
UNK, BOS, EOS = "<unk>", "<s>", "</s>"
SYSTEM, USER, ASSISTANT, END = "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"
CONTROLS = [SYSTEM, USER, ASSISTANT, END]
# GGUF token types (llama.cpp's llama_token_type).
NORMAL, UNKNOWN, CONTROL, BYTE = 1, 2, 3, 6

# The chat template (Jinja, rendered by shuo): <s><|user|>question<|end|><|assistant|>answer<|end|>
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}<|system|>"
    "{% elif message['role'] == 'user' %}<|user|>"
    "{% elif message['role'] == 'assistant' %}<|assistant|>"
    "{% else %}{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}"
    "{{ message['content'] }}<|end|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def chunks(text):
    """Spaces → ▁, cut before every ▁ that follows another character (runs of ▁ stay whole)."""
    s = text.replace(" ", SPACE)
    out, begin = [], 0
    for i in range(1, len(s)):
        if s[i] == SPACE and s[i - 1] != SPACE:
            out.append(s[begin:i])
            begin = i
    if begin < len(s):
        out.append(s[begin:])
    return out


class Tokenizer:
    def __init__(self, tokens, scores, types):
        self.tokens, self.scores, self.types = tokens, scores, types
        self.ids = {}
        for i, t in enumerate(tokens):  # shuo's rule for duplicate texts: a NORMAL token keeps it
            if t not in self.ids or types[self.ids[t]] != NORMAL:
                self.ids[t] = i
        self.byte_ids = [self.ids.get("<0x%02X>" % b, self.ids[UNK]) for b in range(256)]
        self.controls = sorted((t for t, ty in zip(tokens, types) if ty == CONTROL), key=len, reverse=True)
        self._cache = {}

    @property
    def bos_id(self):
        return self.ids[BOS]

    @property
    def end_id(self):
        return self.ids[END]

    def __len__(self):
        return len(self.tokens)

    # -- encoding --
    def _merge_chunk(self, s):
        sym = list(s)
        while len(sym) > 1:
            best, best_i = None, -1
            for i in range(len(sym) - 1):
                tid = self.ids.get(sym[i] + sym[i + 1])
                if tid is not None and (best is None or self.scores[tid] > best):
                    best, best_i = self.scores[tid], i
            if best is None:
                break
            sym[best_i:best_i + 2] = [sym[best_i] + sym[best_i + 1]]
        out = []
        for piece in sym:
            tid = self.ids.get(piece)
            if tid is not None:
                out.append(tid)
            else:
                out += [self.byte_ids[b] for b in piece.encode("utf-8")]
        return out

    def encode_plain(self, text):
        """Text without control tokens (add_space_prefix is off: no leading ▁)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = [t for c in chunks(text) for t in self._merge_chunk(c)]
            if len(self._cache) < 200000:
                self._cache[text] = cached
        return list(cached)

    def encode(self, text, add_bos=True):
        """Like shuo's encode(text, parse_special=true): control tokens in the text are tokens."""
        out = [self.bos_id] if add_bos else []
        i, plain = 0, 0
        while i < len(text):
            for c in self.controls:
                if text.startswith(c, i):
                    if i > plain:
                        out += self.encode_plain(text[plain:i])
                    out.append(self.ids[c])
                    i += len(c)
                    plain = i
                    break
            else:
                i += 1
        if plain < len(text):
            out += self.encode_plain(text[plain:])
        return out

    def decode(self, ids):
        data = bytearray()
        for i in ids:
            t, ty = self.tokens[i], self.types[i]
            if ty == BYTE:
                data.append(int(t[3:5], 16))
            elif ty == NORMAL:
                data += t.replace(SPACE, " ").encode("utf-8")
        return data.decode("utf-8", errors="replace")

    # -- chats --
    def render(self, messages, add_generation_prompt):
        """The chat template's output, written out in Python (the C++ test renders the Jinja)."""
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        s = BOS + "".join(tags[m["role"]] + m["content"] + END for m in messages)
        return s + (ASSISTANT if add_generation_prompt else "")

    def encode_chat(self, messages):
        """(ids, mask): mask is 1 on the tokens the model must learn to produce — each assistant
        message's content and its <|end|>."""
        ids, mask = [self.bos_id], [0]
        tags = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
        for m in messages:
            ids.append(self.ids[tags[m["role"]]])
            mask.append(0)
            body = self.encode_plain(m["content"]) + [self.end_id]
            ids += body
            mask += [1 if m["role"] == "assistant" else 0] * len(body)
        return ids, mask

    # -- files --
    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"tokens": self.tokens, "scores": self.scores, "types": self.types}, f,
                      ensure_ascii=False)

    @staticmethod
    def load(path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return Tokenizer(d["tokens"], d["scores"], d["types"])


def _mergeable(a, b):
    # Digits stay single tokens so the model adds digit by digit; ▁ only leads a piece.
    return not any(ch.isdigit() for ch in a + b) and SPACE not in b


def build(charset_texts, corpus_texts, n_merges):
    """Characters from `charset_texts`; merges from how often pairs occur in `corpus_texts`."""
    tokens = [UNK, BOS, EOS] + CONTROLS + ["<0x%02X>" % b for b in range(256)]
    types = [UNKNOWN, CONTROL, CONTROL] + [CONTROL] * len(CONTROLS) + [BYTE] * 256
    scores = [0.0] * len(tokens)
    chars = sorted({ch for t in charset_texts for ch in t.replace(" ", SPACE)})
    tokens += chars
    types += [NORMAL] * len(chars)
    scores += [-1e9] * len(chars)  # never the result of a merge

    # BPE over distinct chunks weighted by count, with incremental pair counts.
    counts = collections.Counter(c for t in corpus_texts for c in chunks(t))
    words = [list(w) for w in counts]
    weights = list(counts.values())
    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += weights[wi]
            where[(a, b)].add(wi)
    known = set(tokens)
    for rank in range(n_merges):
        best = None
        for pair, n in pair_count.items():
            if n > 1 and _mergeable(*pair) and (best is None or n > pair_count[best]):
                best = pair
        if best is None:
            break
        merged = best[0] + best[1]
        if merged not in known:
            tokens.append(merged)
            types.append(NORMAL)
            scores.append(-float(rank))
            known.add(merged)
        for wi in list(where[best]):
            w = words[wi]
            for a, b in zip(w, w[1:]):
                pair_count[(a, b)] -= weights[wi]
                where[(a, b)].discard(wi)
            i, nw = 0, []
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    nw.append(merged)
                    i += 2
                else:
                    nw.append(w[i])
                    i += 1
            words[wi] = nw
            for a, b in zip(nw, nw[1:]):
                pair_count[(a, b)] += weights[wi]
                where[(a, b)].add(wi)
        del pair_count[best]
    return Tokenizer(tokens, scores, types)
