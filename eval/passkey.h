// Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark attention"): can the model find a 5-digit
// key hidden at a chosen depth of a long, neutral text and repeat it when asked?
//
// Prompt, built in token space so that its length is exactly `len` tokens:
//
//   [intro] [filler: n_before tokens] [needle, with the key] [filler: F − n_before tokens] [question]
//
//   F        = len − |intro| − |needle| − |question|      (an error when negative)
//   n_before = round(depth · F)                            (depth in [0, 1]: 0 = just after the intro,
//                                                           1 = just before the question)
//   filler   = the filler unit's tokens repeated and cut; the needle is inserted into that stream
//              (the text after it continues where the text before it stopped).
//
// Each piece is tokenized on its own (pieces meet at a space, where GPT-2's pre-tokenizer cuts
// anyway), and the key is its own piece " " + key, so its tokens and position are known exactly.
// The answer the model should produce is the key piece's tokens.
//
// Decoding and scoring: greedy decoding (model/sampler.h, top-k 1) of |answer| + 1 tokens with a
// context window of `len` (the prompt is exactly one window; each new token slides the window by
// one, so every forward has length len and one RoPE scaling). The answer is correct iff the
// decoded text, after leading whitespace, starts with exactly the key's digits and no further
// digit follows ("12345." and " 12345 is" count; "1234", "123456", "12 345" do not).
//
// Keys: 5 digits, uniform in [10000, 99999], drawn once from the seed; every cell (length, depth,
// p) uses the same keys, so cells are compared on the same trials.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"
#include "model/model.h"

namespace lssa {

// The prompt's text pieces; "{key}" in the needle marks where the key goes (one or more times).
struct PasskeyTemplate {
  std::string intro;     // the task description, first
  std::string filler;    // one unit of neutral text, repeated (and cut) to fill the length
  std::string needle;    // the sentence that carries the key
  std::string question;  // last; the answer follows it
};
// The template of Mohtashami & Jaggi (2023), as the long-context literature uses it.
const PasskeyTemplate& passkey_default_template();

struct PasskeyPrompt {
  std::vector<int32_t> tokens;  // (len,) the prompt
  std::vector<int32_t> answer;  // the key's tokens (" " + key), what should follow the prompt
  int needle_pos = 0;           // index in tokens of the needle's first token
  int key_pos = 0;              // index in tokens of the key's first token (its first occurrence)
  int filler_tokens = 0;        // F
  int filler_before = 0;        // n_before
};

// The prompt's pieces tokenized once; prompts of any length and depth are cut from them.
class PasskeyPromptBuilder {
 public:
  PasskeyPromptBuilder(const TextTokenizer& tok, const PasskeyTemplate& tpl);
  // The shortest prompt (no filler) for this key (a key's token count can depend on its digits).
  int min_len(const std::string& key) const;
  // The prompt of exactly len tokens with the needle at `depth` ∈ [0, 1]. Throws Error (one line)
  // when len < min_len(), for a depth outside [0, 1], or a key that is not all digits.
  PasskeyPrompt build(int len, double depth, const std::string& key) const;

 private:
  const TextTokenizer& tok_;
  std::vector<int32_t> intro_, filler_, question_;
  std::vector<std::string> needle_parts_;  // the needle's text around each "{key}"
};

// n keys of 5 digits, uniform in [10000, 99999], from the project's RNG seeded with `seed`.
std::vector<std::string> passkey_keys(int n, uint64_t seed);

// True iff `generated`, after leading whitespace, starts with exactly the digits of `key` and no
// further digit.
bool passkey_correct(const std::string& generated, const std::string& key);

struct PasskeyConfig {
  std::vector<int> lens;               // prompt lengths in tokens
  std::vector<double> depths;          // needle depths in [0, 1]
  std::vector<std::string> keys;       // the trials of every cell
  RopeScaling scaling = RopeScaling::None;  // applies when len > T_train
};

struct PasskeyCell {
  int len = 0;
  double depth = 0;
  int correct = 0;                     // trials answered exactly
  std::vector<std::string> outputs;    // the decoded greedy continuation of each trial
  double accuracy() const { return outputs.empty() ? 0.0 : (double)correct / outputs.size(); }
};

// Every (len, depth) cell on one model, in the order lens × depths. on_cell (optional) sees each
// cell when it is done (progress).
std::vector<PasskeyCell> run_passkey(Gpt2Model& model, const TextTokenizer& tok, const PasskeyTemplate& tpl,
                                     const PasskeyConfig& pc,
                                     const std::function<void(const PasskeyCell&)>& on_cell = nullptr);

}  // namespace lssa
