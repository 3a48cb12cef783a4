#include "eval/passkey.h"

#include <cctype>
#include <cmath>

#include "model/sampler.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace lssa {

const PasskeyTemplate& passkey_default_template() {
  // Pieces after the first start with a space so that they join the previous one as text would.
  static const PasskeyTemplate t{
      "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
      "I will quiz you about the important information there.",
      " The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.",
      " The pass key is {key}. Remember it. {key} is the pass key.",
      " What is the pass key? The pass key is",
  };
  return t;
}

namespace {
constexpr const char* kKeyMark = "{key}";

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit((unsigned char)c)) return false;
  return true;
}

void append(std::vector<int32_t>& out, const std::vector<int32_t>& v) { out.insert(out.end(), v.begin(), v.end()); }
}  // namespace

PasskeyPromptBuilder::PasskeyPromptBuilder(const TextTokenizer& tok, const PasskeyTemplate& tpl) : tok_(tok) {
  intro_ = tok.encode(tpl.intro);
  filler_ = tok.encode(tpl.filler);
  question_ = tok.encode(tpl.question);
  if (filler_.empty()) fail("passkey: the filler text is empty");
  // split the needle at each "{key}"
  size_t from = 0;
  for (size_t at; (at = tpl.needle.find(kKeyMark, from)) != std::string::npos; from = at + std::string(kKeyMark).size())
    needle_parts_.push_back(tpl.needle.substr(from, at - from));
  needle_parts_.push_back(tpl.needle.substr(from));
  if (needle_parts_.size() < 2) fail("passkey: the needle has no {key}");
}

int PasskeyPromptBuilder::min_len(const std::string& key) const {
  PasskeyPrompt p = build(-1, 0.0, key);  // len −1: measure only
  return (int)p.tokens.size();
}

PasskeyPrompt PasskeyPromptBuilder::build(int len, double depth, const std::string& key) const {
  if (!all_digits(key)) fail("passkey: the key must be digits, got '" + key + "'");
  if (!(depth >= 0.0 && depth <= 1.0)) fail(strfmt("passkey: the depth must be in [0, 1], got %g", depth));
  // the needle: text parts with the key between them; a space before "{key}" becomes the key's own
  // leading space (" 12345" is how the answer follows "The pass key is")
  PasskeyPrompt p;
  std::vector<int32_t> needle;
  int key_in_needle = -1;
  for (size_t k = 0; k < needle_parts_.size(); k++) {
    std::string part = needle_parts_[k];
    const bool key_follows = k + 1 < needle_parts_.size();
    const bool spaced = key_follows && !part.empty() && part.back() == ' ';
    if (spaced) part.pop_back();
    append(needle, tok_.encode(part));
    if (key_follows) {
      std::vector<int32_t> kt = tok_.encode((spaced ? " " : "") + key);
      if (key_in_needle < 0) {
        key_in_needle = (int)needle.size();
        p.answer = kt;
      }
      append(needle, kt);
    }
  }
  const int fixed = (int)(intro_.size() + needle.size() + question_.size());
  if (len < 0) {  // min_len()
    p.tokens.resize(fixed);
    return p;
  }
  if (len < fixed)
    fail(strfmt("passkey: a prompt of %d tokens is too short: the text without filler is %d tokens", len, fixed));
  p.filler_tokens = len - fixed;
  p.filler_before = (int)std::lround(depth * p.filler_tokens);
  p.tokens.reserve(len);
  append(p.tokens, intro_);
  const size_t nf = filler_.size();
  for (int i = 0; i < p.filler_before; i++) p.tokens.push_back(filler_[i % nf]);
  p.needle_pos = (int)p.tokens.size();
  p.key_pos = p.needle_pos + key_in_needle;
  append(p.tokens, needle);
  for (int i = p.filler_before; i < p.filler_tokens; i++) p.tokens.push_back(filler_[i % nf]);
  append(p.tokens, question_);
  return p;
}

std::vector<std::string> passkey_keys(int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::string> keys(n);
  for (std::string& k : keys) k = std::to_string(10000 + rng.below(90000));
  return keys;
}

bool passkey_correct(const std::string& generated, const std::string& key) {
  size_t i = 0;
  while (i < generated.size() && std::isspace((unsigned char)generated[i])) i++;
  size_t j = i;
  while (j < generated.size() && std::isdigit((unsigned char)generated[j])) j++;
  return !key.empty() && generated.compare(i, j - i, key) == 0 && j - i == key.size();
}

std::vector<PasskeyCell> run_passkey(Gpt2Model& model, const TextTokenizer& tok, const PasskeyTemplate& tpl,
                                     const PasskeyConfig& pc, const std::function<void(const PasskeyCell&)>& on_cell) {
  const GPT2Config& cfg = model.config();
  if (tok.vocab_size() > cfg.V)
    fail(strfmt("passkey: the %s tokenizer has %d tokens, the model only %d", tok.name(), tok.vocab_size(), cfg.V));
  if (pc.keys.empty()) fail("passkey: no keys");
  PasskeyPromptBuilder builder(tok, tpl);
  for (const std::string& key : pc.keys)  // every prompt must fit before any work
    for (int len : pc.lens)
      if (len < builder.min_len(key)) builder.build(len, 0.0, key);  // throws
  Sampler greedy({1, 1.0f, 0}, cfg.V);
  std::vector<PasskeyCell> cells;
  for (int len : pc.lens)
    for (double depth : pc.depths) {
      PasskeyCell c;
      c.len = len;
      c.depth = depth;
      for (const std::string& key : pc.keys) {
        const PasskeyPrompt p = builder.build(len, depth, key);
        const GenerateConfig gc{(int)p.answer.size() + 1, len, pc.scaling};
        const std::vector<int> out = generate(model, std::vector<int>(p.tokens.begin(), p.tokens.end()), gc, greedy);
        const std::string text = tok.decode(std::vector<int32_t>(out.begin(), out.end()));
        c.correct += passkey_correct(text, key);
        c.outputs.push_back(text);
      }
      if (on_cell) on_cell(c);
      cells.push_back(std::move(c));
    }
  return cells;
}

}  // namespace lssa
