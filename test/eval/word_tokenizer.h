// A word-level TextTokenizer for the evaluation tests: a vocabulary of a few dozen ids, so a
// model small enough to train in seconds can read the passkey prompts.
//
// Pieces, left to right: an optional single space followed by a run of letters (" grass"), an
// optional space followed by a run of digits, or one other non-space character ("."). A run of
// digits is read digit by digit, and the k-th digit of a run (k < 8) has its own ids: " 29053" is
// [" 2", "9"@1, "0"@2, "5"@3, "3"@4]. Tagging digits with their place lets a one-layer head copy a
// key (attend to the earlier digit of the same place) instead of needing an induction circuit,
// which a tiny model takes far longer to learn. Every piece of the texts given to the
// constructor, plus every digit at every place, gets an id in order of first appearance; a piece
// outside the vocabulary throws.
#pragma once
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "data/text_tokenizer.h"
#include "runtime/error.h"

namespace lssa_test {

class WordTokenizer final : public lssa::TextTokenizer {
 public:
  explicit WordTokenizer(const std::vector<std::string>& texts) {
    for (int d = 0; d < 10; d++) {
      add(std::string(" ") + char('0' + d));
      for (int k = 0; k < kPlaces; k++) add(digit_piece(k, char('0' + d)));
    }
    for (const std::string& t : texts)
      for (const std::string& p : pieces(t)) add(p);
  }
  const char* name() const override { return "words"; }
  int32_t vocab_size() const override { return (int32_t)words_.size(); }
  std::vector<int32_t> encode(std::string_view text) const override {
    std::vector<int32_t> ids;
    for (const std::string& p : pieces(text)) {
      auto it = ids_.find(p);
      if (it == ids_.end()) lssa::fail("WordTokenizer: '" + p + "' is not in the vocabulary");
      ids.push_back(it->second);
    }
    return ids;
  }
  std::string decode(const int32_t* ids, size_t count) const override {
    std::string s;
    for (size_t i = 0; i < count; i++) {
      if (ids[i] < 0 || ids[i] >= vocab_size()) lssa::fail("WordTokenizer: bad id");
      const std::string& w = words_[ids[i]];
      s += w[0] > 0 && w[0] < kPlaces ? w.substr(1) : w;  // drop a digit's place tag
    }
    return s;
  }

 private:
  std::vector<std::string> words_;
  std::map<std::string, int32_t> ids_;

  static constexpr int kPlaces = 8;
  // the piece of digit d at place k of its run: the digit, tagged with k (a control byte) after
  // the first place
  static std::string digit_piece(int k, char d) { return k == 0 ? std::string(1, d) : std::string{char(k), d}; }
  void add(const std::string& p) {
    if (ids_.emplace(p, (int32_t)words_.size()).second) words_.push_back(p);
  }
  static std::vector<std::string> pieces(std::string_view t) {
    std::vector<std::string> out;
    size_t i = 0;
    auto alpha = [&](size_t k) { return k < t.size() && std::isalpha((unsigned char)t[k]); };
    auto digit = [&](size_t k) { return k < t.size() && std::isdigit((unsigned char)t[k]); };
    while (i < t.size()) {
      size_t j = i + (t[i] == ' ' && (alpha(i + 1) || digit(i + 1)) ? 1 : 0);
      if (alpha(j)) {
        while (alpha(j)) j++;
      } else if (digit(j)) {  // a run of digits, one piece per digit, tagged with its place
        std::string first = std::string(t.substr(i, j + 1 - i));
        out.push_back(first);
        for (int k = 1; digit(j + k); k++) out.push_back(digit_piece(k < kPlaces ? k : kPlaces - 1, t[j + k]));
        i = j + 1;
        while (digit(i)) i++;
        continue;
      } else {
        j++;  // one digit, or one other character
      }
      out.emplace_back(t.substr(i, j - i));
      i = j;
    }
    return out;
  }
};

}  // namespace lssa_test
