#include "data/text_tokenizer.h"

#include "data/tokenizer.h"
#include "runtime/error.h"

namespace lssa {

namespace {
class Gpt2TextTokenizer final : public TextTokenizer {
 public:
  explicit Gpt2TextTokenizer(std::unique_ptr<Gpt2Tokenizer> tok) : tok_(std::move(tok)) {}
  const char* name() const override { return "gpt2"; }
  int32_t vocab_size() const override { return tok_->vocab_size(); }
  std::vector<int32_t> encode(std::string_view text) const override { return tok_->encode(text, false); }
  std::string decode(const int32_t* ids, size_t count) const override { return tok_->decode(ids, count); }

 private:
  std::unique_ptr<Gpt2Tokenizer> tok_;
};
}  // namespace

std::unique_ptr<TextTokenizer> make_gpt2_text_tokenizer(std::unique_ptr<Gpt2Tokenizer> tok) {
  return std::make_unique<Gpt2TextTokenizer>(std::move(tok));
}

std::unique_ptr<TextTokenizer> open_model_tokenizer(int V, const std::string& dir, const char* what) {
  if (V == kGpt2VocabSize) {
    std::unique_ptr<Gpt2Tokenizer> tok = open_tokenizer(dir);
    if (!tok)
      fail(strfmt("%s needs the GPT-2 tokenizer: none in %s (run scripts/setup.sh, or pass --tokenizer-dir)", what,
                  default_tokenizer_dir().c_str()));
    return make_gpt2_text_tokenizer(std::move(tok));
  }
  fail(strfmt("%s needs the model's tokenizer, and none is known for a vocabulary of %d tokens (GPT-2's is %d)", what,
              V, kGpt2VocabSize));
}

}  // namespace lssa
