#include "data/byte_tokenizer.h"

#include "runtime/error.h"

namespace lssa {

namespace {
constexpr std::string_view kSeparatorText = "<|endoftext|>";

// The 256 one-byte strings decode_token returns views of.
struct ByteTable {
  char bytes[256];
  ByteTable() {
    for (int i = 0; i < 256; i++) bytes[i] = (char)i;
  }
};
const ByteTable kBytes;
}  // namespace

void ByteTokenizer::encode_append(std::string_view text, std::vector<int32_t>& out, bool allow_special) const {
  out.reserve(out.size() + text.size());
  for (size_t i = 0; i < text.size(); i++) {
    if (allow_special && text.compare(i, kSeparatorText.size(), kSeparatorText) == 0) {
      out.push_back(kByteSeparatorToken);
      i += kSeparatorText.size() - 1;
    } else {
      out.push_back((unsigned char)text[i]);
    }
  }
}

std::string_view ByteTokenizer::decode_token(int32_t id) const {
  if (id == kByteSeparatorToken) return kSeparatorText;
  if (id < 0 || id > 255) fail(strfmt("byte token id %d is outside the vocabulary [0, %d)", id, kByteVocabSize));
  return std::string_view(&kBytes.bytes[id], 1);
}

}  // namespace lssa
