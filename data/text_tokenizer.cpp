#include "data/text_tokenizer.h"

#include "data/tokenizer.h"
#include "runtime/error.h"

namespace lssa {

namespace {
class TokenizerText final : public TextTokenizer {
 public:
  explicit TokenizerText(std::unique_ptr<Tokenizer> tok) : tok_(std::move(tok)) {}
  const char* name() const override { return tok_->kind(); }
  int32_t vocab_size() const override { return tok_->vocab_size(); }
  std::vector<int32_t> encode(std::string_view text) const override { return tok_->encode(text, false); }
  std::string decode(const int32_t* ids, size_t count) const override { return tok_->decode(ids, count); }

 private:
  std::unique_ptr<Tokenizer> tok_;
};
}  // namespace

std::unique_ptr<TextTokenizer> make_text_tokenizer(std::unique_ptr<Tokenizer> tok) {
  return std::make_unique<TokenizerText>(std::move(tok));
}

std::unique_ptr<TextTokenizer> make_gpt2_text_tokenizer(std::unique_ptr<Gpt2Tokenizer> tok) {
  return make_text_tokenizer(std::move(tok));
}

std::unique_ptr<TextTokenizer> open_model_tokenizer(const std::string& kind, int V, const std::string& dir,
                                                    const char* what) {
  const int tok_v = tokenizer_vocab_size(kind);  // throws for an unknown kind
  if (V != tok_v)
    fail(strfmt("%s needs the model's tokenizer: the checkpoint records %s (V = %d) but the model has V = %d", what,
                kind.c_str(), tok_v, V));
  std::unique_ptr<Tokenizer> tok = open_tokenizer_kind(kind, dir);
  if (!tok)
    fail(strfmt("%s needs the GPT-2 tokenizer: none in %s (run scripts/setup.sh, or pass --tokenizer-dir)", what,
                default_tokenizer_dir().c_str()));
  return make_text_tokenizer(std::move(tok));
}

}  // namespace lssa
