// GPT-2 byte-level BPE: loading and validating OpenAI's files, pre-tokenising with PCRE2, BPE
// merging, a per-thread piece cache, decoding and llm.c's tokenizer file. See tokenizer.h.
//
// Speed notes (why the code looks the way it does):
//  - Token bytes live in one arena; a hand-rolled open-addressing table maps bytes -> id, so a
//    lookup hashes a few bytes and compares one string_view, with no allocation.
//  - Most regex pieces are whole tokens (" the", " and"): one lookup and done. Other pieces are
//    looked up in a per-thread cache before running BPE.
//  - BPE on a short piece is tiktoken's quadratic scan over a stack array (fast for the usual
//    2–20 bytes). A long piece (a run of 10,000 spaces or a minified blob) would make that
//    quadratic, so beyond kLinearBpeMaxBytes a heap + linked list gives O(n log n); both pick
//    the same merge (lowest id, leftmost on ties), so the output is identical.
#include "data/tokenizer.h"

#include "data/byte_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <queue>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace lssa {

namespace {

// JavaScript's \s (the reference encoder runs in JS): TAB LF VT FF CR, the Unicode space
// separators \p{Zs} plus U+2028/U+2029 (= \p{Z}), and U+FEFF. PCRE2's own \s differs
// (it lacks U+FEFF), so it is spelled out.
#define JS_SPACE "\\t\\n\\x{0B}\\f\\r\\p{Z}\\x{FEFF}"
const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JS_SPACE "\\p{L}\\p{N}]+"
    "|[" JS_SPACE "]+(?![^" JS_SPACE "])|[" JS_SPACE "]+";
#undef JS_SPACE

constexpr char kEotText[] = "<|endoftext|>";
constexpr size_t kEotLen = sizeof(kEotText) - 1;
constexpr size_t kLinearBpeMaxBytes = 128;
constexpr size_t kCacheMaxPieceBytes = 256;

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the other 68 bytes
// are mapped to U+0100.. in byte order, so every token is a printable string in encoder.json.
void gpt2_byte_alphabet(uint32_t byte_to_cp[256]) {
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; b++) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    byte_to_cp[b] = printable ? b : next++;
  }
}

// Decodes one UTF-8 code point from s[i..]; returns false on malformed input.
bool next_code_point(std::string_view s, size_t& i, uint32_t& cp) {
  unsigned char c = s[i];
  int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  if (extra < 0 || i + extra >= s.size()) return false;
  cp = extra == 0 ? c : c & (0x3F >> extra);
  for (int k = 1; k <= extra; k++) {
    unsigned char d = s[i + k];
    if ((d >> 6) != 2) return false;
    cp = (cp << 6) | (d & 0x3F);
  }
  i += extra + 1;
  return true;
}

inline uint64_t hash_bytes(const unsigned char* p, size_t n) {
  // Multiply-xorshift over 8-byte words; good enough for a table keyed by short strings.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

std::atomic<uint64_t> g_next_tokenizer_id{1};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Per-thread state: PCRE2 match data and the piece cache. Tagged with the tokenizer's unique id
// (not its address, which a later tokenizer could reuse) and rebuilt when the tag differs.
struct ThreadState {
  uint64_t owner = 0;
  pcre2_match_data* match = nullptr;
  pcre2_match_context* match_ctx = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;

  // Piece cache: open addressing over slots; keys and ids in two arenas. When the arenas grow
  // past the budget the whole cache is dropped (simple, and the hot pieces come back at once).
  struct Slot {
    uint64_t hash;
    uint32_t key_off, key_len, ids_off, ids_len;
  };
  std::vector<Slot> slots;
  std::string keys;
  std::vector<int32_t> ids;
  size_t used = 0;

  // Reused BPE work space.
  std::vector<uint32_t> start, end, prev;
  std::vector<int32_t> pair_rank;
  std::vector<int32_t> bpe_out;

  ~ThreadState() { release(); }
  void release() {
    if (match) pcre2_match_data_free(match);
    if (match_ctx) pcre2_match_context_free(match_ctx);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
    match = nullptr;
    match_ctx = nullptr;
    jit_stack = nullptr;
  }
  void clear_cache(size_t nslots) {
    slots.assign(nslots, Slot{0, 0, 0, 0, 0});
    keys.clear();
    ids.clear();
    used = 0;
  }
};

struct Gpt2Tokenizer::Impl {
  uint64_t id = g_next_tokenizer_id.fetch_add(1);
  std::string token_bytes;               // all tokens' bytes, back to back
  std::vector<uint32_t> token_offset;    // token i = token_bytes[offset[i], offset[i+1])
  std::vector<int32_t> rank_table;       // open addressing: token id or -1 (EOT excluded)
  uint64_t rank_mask = 0;
  size_t max_token_bytes = 0;
  pcre2_code* regex = nullptr;
  bool jit = false;

  ~Impl() {
    if (regex) pcre2_code_free(regex);
  }

  std::string_view token(int32_t i) const {
    return std::string_view(token_bytes).substr(token_offset[i], token_offset[i + 1] - token_offset[i]);
  }

  // Token id of exactly these bytes, or -1. EOT is not in the table: "<|endoftext|>" as text is
  // ordinary text.
  int32_t rank_of(const unsigned char* p, size_t n) const {
    if (n > max_token_bytes) return -1;
    uint64_t h = hash_bytes(p, n) & rank_mask;
    for (;;) {
      int32_t t = rank_table[h];
      if (t < 0) return -1;
      uint32_t off = token_offset[t];
      if (token_offset[t + 1] - off == n && std::memcmp(token_bytes.data() + off, p, n) == 0) return t;
      h = (h + 1) & rank_mask;
    }
  }

  ThreadState& thread_state() const;
  void encode_segment(std::string_view text, std::vector<int32_t>& out, ThreadState& ts) const;
  void encode_piece(const unsigned char* p, size_t n, std::vector<int32_t>& out, ThreadState& ts) const;
  void bpe(const unsigned char* p, size_t n, std::vector<int32_t>& out, ThreadState& ts) const;
  void bpe_linear(const unsigned char* p, size_t n, std::vector<int32_t>& out) const;
  void bpe_heap(const unsigned char* p, size_t n, std::vector<int32_t>& out, ThreadState& ts) const;
};

// ---------------------------------------------------------------------------------------------
// Loading.

static std::string read_tokenizer_file(const std::string& dir, const char* name) {
  std::string path = dir + "/" + name;
  if (!file_exists(path))
    fail(strfmt("GPT-2 tokenizer file %s is missing (get it with test/data/fetch_tokenizer.sh %s)",
                path.c_str(), dir.c_str()));
  std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

Gpt2Tokenizer::Gpt2Tokenizer(const std::string& dir) : impl_(new Impl) {
  Impl& m = *impl_;
  uint32_t byte_to_cp[256];
  gpt2_byte_alphabet(byte_to_cp);
  int16_t cp_to_byte[324];
  std::fill(cp_to_byte, cp_to_byte + 324, (int16_t)-1);
  for (int b = 0; b < 256; b++) cp_to_byte[byte_to_cp[b]] = (int16_t)b;

  // encoder.json: {"<token in byte alphabet>": id, ...}
  const std::string encoder_path = dir + "/encoder.json";
  std::string text = read_tokenizer_file(dir, "encoder.json");
  nlohmann::json encoder;
  try {
    encoder = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(strfmt("%s is not valid JSON: %s", encoder_path.c_str(), e.what()));
  }
  if (!encoder.is_object() || encoder.size() != (size_t)kGpt2VocabSize)
    fail(strfmt("%s has %zu entries, expected %d: not GPT-2's encoder.json", encoder_path.c_str(),
                encoder.is_object() ? encoder.size() : (size_t)0, kGpt2VocabSize));
  std::vector<std::string> tokens(kGpt2VocabSize);
  std::vector<bool> seen(kGpt2VocabSize, false);
  for (auto it = encoder.begin(); it != encoder.end(); ++it) {
    if (!it.value().is_number_integer())
      fail(strfmt("%s: the value of \"%s\" is not an integer id", encoder_path.c_str(), it.key().c_str()));
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= kGpt2VocabSize || seen[id])
      fail(strfmt("%s: id %lld is out of range or repeated", encoder_path.c_str(), (long long)id));
    seen[id] = true;
    const std::string& key = it.key();
    std::string bytes;
    for (size_t i = 0; i < key.size();) {
      uint32_t cp;
      if (!next_code_point(key, i, cp) || cp >= 324 || cp_to_byte[cp] < 0)
        fail(strfmt("%s: token %lld has a character outside GPT-2's byte alphabet", encoder_path.c_str(),
                    (long long)id));
      bytes.push_back((char)cp_to_byte[cp]);
    }
    if (bytes.empty()) fail(strfmt("%s: token %lld is empty", encoder_path.c_str(), (long long)id));
    tokens[id] = std::move(bytes);
  }
  if (tokens[kGpt2EotToken] != kEotText)
    fail(strfmt("%s: id %d is not <|endoftext|>", encoder_path.c_str(), kGpt2EotToken));
  for (int b = 0; b < 256; b++)
    if (tokens[b].size() != 1)
      fail(strfmt("%s: id %d is not a single byte (GPT-2 gives ids 0-255 to the 256 bytes)",
                  encoder_path.c_str(), b));

  m.token_offset.resize(kGpt2VocabSize + 1);
  for (int i = 0; i < kGpt2VocabSize; i++) {
    m.token_offset[i] = (uint32_t)m.token_bytes.size();
    m.token_bytes += tokens[i];
    if (i != kGpt2EotToken) m.max_token_bytes = std::max(m.max_token_bytes, tokens[i].size());
  }
  m.token_offset[kGpt2VocabSize] = (uint32_t)m.token_bytes.size();

  size_t table_size = 1u << 17;  // load factor 0.38
  m.rank_table.assign(table_size, -1);
  m.rank_mask = table_size - 1;
  for (int32_t t = 0; t < kGpt2EotToken; t++) {
    std::string_view tb = m.token(t);
    auto* p = (const unsigned char*)tb.data();
    if (m.rank_of(p, tb.size()) >= 0)
      fail(strfmt("%s: token %d repeats the bytes of another token", encoder_path.c_str(), t));
    uint64_t h = hash_bytes(p, tb.size()) & m.rank_mask;
    while (m.rank_table[h] >= 0) h = (h + 1) & m.rank_mask;
    m.rank_table[h] = t;
  }

  // vocab.bpe: "#version: 0.2" then 50,000 lines "left right". Merge i must produce id 256 + i;
  // then "merge the pair with the lowest merge rank" is the same as "merge the pair whose
  // concatenation has the lowest id", which is how tiktoken (and this file) runs BPE.
  const std::string vocab_path = dir + "/vocab.bpe";
  std::string vocab = read_tokenizer_file(dir, "vocab.bpe");
  size_t pos = 0, line_no = 0;
  int merges = 0;
  while (pos < vocab.size()) {
    size_t nl = vocab.find('\n', pos);
    if (nl == std::string::npos) nl = vocab.size();
    std::string_view line(vocab.data() + pos, nl - pos);
    pos = nl + 1;
    line_no++;
    if (line.empty() || (line_no == 1 && line.substr(0, 8) == "#version")) continue;
    size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos)
      fail(strfmt("%s line %zu is not a merge \"left right\"", vocab_path.c_str(), line_no));
    if (merges >= kGpt2MergeCount) {
      merges++;
      continue;  // counted for the error below
    }
    std::string merged;
    for (std::string_view part : {line.substr(0, space), line.substr(space + 1)})
      for (size_t i = 0; i < part.size();) {
        uint32_t cp;
        if (!next_code_point(part, i, cp) || cp >= 324 || cp_to_byte[cp] < 0)
          fail(strfmt("%s line %zu has a character outside GPT-2's byte alphabet", vocab_path.c_str(), line_no));
        merged.push_back((char)cp_to_byte[cp]);
      }
    int32_t id = m.rank_of((const unsigned char*)merged.data(), merged.size());
    if (id != 256 + merges)
      fail(strfmt("%s line %zu: merge %d should produce token %d but produces %d: files do not match",
                  vocab_path.c_str(), line_no, merges, 256 + merges, id));
    merges++;
  }
  if (merges != kGpt2MergeCount)
    fail(strfmt("%s has %d merges, expected %d: not GPT-2's vocab.bpe", vocab_path.c_str(), merges,
                kGpt2MergeCount));

  // The pre-tokeniser. MATCH_INVALID_UTF lets the pattern run over arbitrary bytes: invalid
  // sequences never match and are picked up between matches (see encode_segment).
  int err = 0;
  PCRE2_SIZE err_off = 0;
  m.regex = pcre2_compile((PCRE2_SPTR)kGpt2Pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (!m.regex) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail(strfmt("cannot compile the GPT-2 regex at offset %zu: %s", (size_t)err_off, (const char*)msg));
  }
  m.jit = pcre2_jit_compile(m.regex, PCRE2_JIT_COMPLETE) == 0;  // without JIT: slower, same result
}

Gpt2Tokenizer::~Gpt2Tokenizer() = default;

ThreadState& Gpt2Tokenizer::Impl::thread_state() const {
  thread_local ThreadState ts;
  if (ts.owner != id) {
    ts.release();
    ts.owner = id;
    ts.match = pcre2_match_data_create(1, nullptr);
    ts.match_ctx = pcre2_match_context_create(nullptr);
    // A bigger JIT stack than the 32 KiB default, so that no input can exhaust it.
    ts.jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (!ts.match || !ts.match_ctx || !ts.jit_stack) fail("out of memory creating PCRE2 match data");
    pcre2_jit_stack_assign(ts.match_ctx, nullptr, ts.jit_stack);
    ts.clear_cache(1u << 14);
  }
  return ts;
}

// ---------------------------------------------------------------------------------------------
// BPE.

// tiktoken's algorithm on a small stack array. part k covers [start[k], start[k+1]);
// rank[k] is the id of part k merged with part k+1 (INT_MAX if that is not a token).
void Gpt2Tokenizer::Impl::bpe_linear(const unsigned char* p, size_t n, std::vector<int32_t>& out) const {
  uint32_t start[kLinearBpeMaxBytes + 1];
  int32_t rank[kLinearBpeMaxBytes + 1];
  size_t parts = n;
  for (size_t k = 0; k <= n; k++) start[k] = (uint32_t)k;
  for (size_t k = 0; k + 1 < n; k++) {
    int32_t r = rank_of(p + k, 2);
    rank[k] = r < 0 ? INT_MAX : r;
  }
  rank[n - 1] = INT_MAX;
  auto merged_rank = [&](size_t k) -> int32_t {  // id of parts k and k+1 joined
    if (k + 2 > parts) return INT_MAX;
    int32_t r = rank_of(p + start[k], start[k + 2] - start[k]);
    return r < 0 ? INT_MAX : r;
  };
  while (parts > 1) {
    size_t best = 0;
    for (size_t k = 1; k + 1 < parts; k++)
      if (rank[k] < rank[best]) best = k;
    if (rank[best] == INT_MAX) break;
    // Join part best with best+1: drop boundary best+1.
    std::memmove(start + best + 1, start + best + 2, (parts - best - 1) * sizeof(uint32_t));
    std::memmove(rank + best + 1, rank + best + 2, (parts - best - 2) * sizeof(int32_t));
    parts--;
    rank[best] = merged_rank(best);
    if (best > 0) rank[best - 1] = merged_rank(best - 1);
  }
  for (size_t k = 0; k < parts; k++) out.push_back(rank_of(p + start[k], start[k + 1] - start[k]));
}

// Same merges for long pieces: parts form a linked list indexed by their start byte, candidate
// pairs sit in a min-heap keyed by (id, start), stale entries are skipped when popped.
void Gpt2Tokenizer::Impl::bpe_heap(const unsigned char* p, size_t n, std::vector<int32_t>& out,
                                   ThreadState& ts) const {
  std::vector<uint32_t>& end = ts.end;    // end[s]: end of the part starting at s (0 = dead)
  std::vector<uint32_t>& prev = ts.prev;  // prev[s]: start of the part before it
  end.resize(n);
  prev.resize(n);
  for (size_t s = 0; s < n; s++) {
    end[s] = (uint32_t)s + 1;
    prev[s] = (uint32_t)s - 1;
  }
  struct Pair {
    int32_t rank;
    uint32_t left, right_end;
    bool operator>(const Pair& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Pair, std::vector<Pair>, std::greater<Pair>> heap;
  for (size_t s = 0; s + 1 < n; s++) {
    int32_t r = rank_of(p + s, 2);
    if (r >= 0) heap.push({r, (uint32_t)s, (uint32_t)s + 2});
  }
  while (!heap.empty()) {
    Pair top = heap.top();
    heap.pop();
    uint32_t l = top.left;
    if (end[l] == 0 || end[l] >= n || end[end[l]] != top.right_end) continue;  // stale
    uint32_t mid = end[l], e = top.right_end;
    end[mid] = 0;
    end[l] = e;
    if (e < n) {
      prev[e] = l;
      int32_t r = rank_of(p + l, end[e] - l);
      if (r >= 0) heap.push({r, l, end[e]});
    }
    if (l > 0) {
      uint32_t pl = prev[l];
      int32_t r = rank_of(p + pl, e - pl);
      if (r >= 0) heap.push({r, pl, e});
    }
  }
  for (uint32_t s = 0; s < n; s = end[s]) out.push_back(rank_of(p + s, end[s] - s));
}

void Gpt2Tokenizer::Impl::bpe(const unsigned char* p, size_t n, std::vector<int32_t>& out,
                              ThreadState& ts) const {
  if (n <= kLinearBpeMaxBytes)
    bpe_linear(p, n, out);
  else
    bpe_heap(p, n, out, ts);
}

void Gpt2Tokenizer::Impl::encode_piece(const unsigned char* p, size_t n, std::vector<int32_t>& out,
                                       ThreadState& ts) const {
  int32_t whole = rank_of(p, n);
  if (whole >= 0) {
    out.push_back(whole);
    return;
  }
  if (n > kCacheMaxPieceBytes) {
    bpe(p, n, out, ts);
    return;
  }
  uint64_t h = hash_bytes(p, n);
  uint64_t mask = ts.slots.size() - 1;
  uint64_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    const ThreadState::Slot& s = ts.slots[i];
    if (s.key_len == 0) break;
    if (s.hash == h && s.key_len == n && std::memcmp(ts.keys.data() + s.key_off, p, n) == 0) {
      out.insert(out.end(), ts.ids.begin() + s.ids_off, ts.ids.begin() + s.ids_off + s.ids_len);
      return;
    }
  }
  size_t first = out.size();
  bpe(p, n, out, ts);
  // Insert. Grow the table at half load; drop everything when the arenas pass ~64 MiB.
  if (ts.keys.size() > (48u << 20) || ts.ids.size() > (4u << 20)) {
    ts.clear_cache(1u << 14);
  } else if ((ts.used + 1) * 2 > ts.slots.size()) {
    std::vector<ThreadState::Slot> old(ts.slots.size() * 2, ThreadState::Slot{0, 0, 0, 0, 0});
    old.swap(ts.slots);
    uint64_t m2 = ts.slots.size() - 1;
    for (const auto& s : old)
      if (s.key_len) {
        uint64_t j = s.hash & m2;
        while (ts.slots[j].key_len) j = (j + 1) & m2;
        ts.slots[j] = s;
      }
  }
  mask = ts.slots.size() - 1;
  i = h & mask;
  while (ts.slots[i].key_len) i = (i + 1) & mask;
  ts.slots[i] = {h, (uint32_t)ts.keys.size(), (uint32_t)n, (uint32_t)ts.ids.size(),
                 (uint32_t)(out.size() - first)};
  ts.keys.append((const char*)p, n);
  ts.ids.insert(ts.ids.end(), out.begin() + first, out.end());
  ts.used++;
}

// Runs the pre-tokeniser over text that holds no special token.
void Gpt2Tokenizer::Impl::encode_segment(std::string_view text, std::vector<int32_t>& out,
                                         ThreadState& ts) const {
  auto* subject = (const unsigned char*)text.data();
  size_t len = text.size(), pos = 0;
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ts.match);
  while (pos < len) {
    int rc = jit ? pcre2_jit_match(regex, subject, len, pos, 0, ts.match, ts.match_ctx)
                 : pcre2_match(regex, subject, len, pos, 0, ts.match, ts.match_ctx);
    size_t mstart = len, mend = len;
    if (rc > 0) {
      mstart = ov[0];
      mend = ov[1];
    } else if (rc != PCRE2_ERROR_NOMATCH) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail(strfmt("GPT-2 pre-tokeniser failed at byte %zu: %s", pos, (const char*)msg));
    }
    // Bytes skipped by the match can only be invalid UTF-8 (the pattern matches every code
    // point); they form one piece so that decoding gives them back.
    if (mstart > pos) encode_piece(subject + pos, mstart - pos, out, ts);
    if (mend > mstart) encode_piece(subject + mstart, mend - mstart, out, ts);
    LSSA_ASSERT(mend > pos);
    pos = mend;
  }
}

// ---------------------------------------------------------------------------------------------
// Public API.

void Gpt2Tokenizer::encode_append(std::string_view text, std::vector<int32_t>& out,
                                  bool allow_special) const {
  ThreadState& ts = impl_->thread_state();
  if (!allow_special) {
    impl_->encode_segment(text, out, ts);
    return;
  }
  size_t pos = 0;
  for (;;) {
    size_t eot = text.find(std::string_view(kEotText, kEotLen), pos);
    if (eot == std::string_view::npos) break;
    impl_->encode_segment(text.substr(pos, eot - pos), out, ts);
    out.push_back(kGpt2EotToken);
    pos = eot + kEotLen;
  }
  impl_->encode_segment(text.substr(pos), out, ts);
}

std::vector<int32_t> Gpt2Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 16);
  encode_append(text, out, allow_special);
  return out;
}

std::string_view Gpt2Tokenizer::decode_token(int32_t id) const {
  if (id < 0 || id >= kGpt2VocabSize) fail(strfmt("token id %d is outside the GPT-2 vocabulary [0, %d)", id, kGpt2VocabSize));
  return impl_->token(id);
}

std::string Gpt2Tokenizer::decode(const int32_t* ids, size_t count) const {
  size_t bytes = 0;
  for (size_t i = 0; i < count; i++) bytes += decode_token(ids[i]).size();
  std::string out;
  out.reserve(bytes);
  for (size_t i = 0; i < count; i++) out += impl_->token(ids[i]);
  return out;
}

std::string Gpt2Tokenizer::decode(const std::vector<int32_t>& ids) const {
  return decode(ids.data(), ids.size());
}

void Gpt2Tokenizer::write_llmc_tokenizer_bin(const std::string& path) const {
  uint32_t header[256] = {};
  header[0] = 20240328;  // llm.c's tokenizer magic
  header[1] = 2;         // version 2 stores the EOT id in the header
  header[2] = kGpt2VocabSize;
  header[3] = kGpt2EotToken;
  AtomicFile f(path);
  f.write(header, sizeof header);
  for (int32_t t = 0; t < kGpt2VocabSize; t++) {
    std::string_view b = impl_->token(t);
    LSSA_ASSERT(b.size() >= 1 && b.size() <= 255);
    uint8_t len = (uint8_t)b.size();
    f.write(&len, 1);
    f.write(b.data(), b.size());
  }
  f.commit();
}

// ---------------------------------------------------------------------------------------------
// Finding the files.

std::string default_tokenizer_dir() {
  const char* d = std::getenv("LSSA_DATA_DIR");
  return std::string(d && *d ? d : LSSA_DEFAULT_DATA_DIR) + "/tokenizer";
}

std::unique_ptr<Gpt2Tokenizer> open_tokenizer(const std::string& dir, std::string* used) {
  std::string d = dir.empty() ? default_tokenizer_dir() : dir;
  if (dir.empty() && !file_exists(d + "/encoder.json")) d.clear();
  if (used) *used = d;
  return d.empty() ? nullptr : std::make_unique<Gpt2Tokenizer>(d);
}

std::unique_ptr<Tokenizer> open_tokenizer_kind(const std::string& kind, const std::string& dir, std::string* used) {
  if (kind == "bytes") {
    if (used) *used = "";
    return std::make_unique<ByteTokenizer>();
  }
  if (kind == "gpt2") return open_tokenizer(dir, used);
  fail(strfmt("unknown tokenizer '%s' (gpt2 | bytes)", kind.c_str()));
}

std::string tokenizer_kind_of_tag(int32_t tag, const std::string& where) {
  if (tag == kShardTagGpt2) return "gpt2";
  if (tag == kShardTagBytes) return "bytes";
  fail(strfmt("%s: unknown tokenizer tag %d in the shard header (0 = gpt2, 1 = bytes)", where.c_str(), tag));
}

int32_t tokenizer_tag_of_kind(const std::string& kind) {
  if (kind == "gpt2") return kShardTagGpt2;
  if (kind == "bytes") return kShardTagBytes;
  fail(strfmt("unknown tokenizer '%s' (gpt2 | bytes)", kind.c_str()));
}

int32_t tokenizer_vocab_size(const std::string& kind) {
  if (kind == "gpt2") return kGpt2VocabSize;
  if (kind == "bytes") return kByteVocabSize;
  fail(strfmt("unknown tokenizer '%s' (gpt2 | bytes)", kind.c_str()));
}

}  // namespace lssa
