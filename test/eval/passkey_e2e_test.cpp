// Passkey retrieval end to end: a tiny model trained for 2,000 steps (about a minute of CPU) on synthetic passkey
// documents (random 5-digit keys at random depths, the key repeated after the question) retrieves
// keys it has never seen at 1x T_train through the same harness eval_gpt2 --task passkey runs
// (prompt builder, greedy decoding with model/sampler.h, exact-digit scorer) — far above chance
// (1 in 90,000 for a key; 1 in 10 for a digit) — and an untrained model retrieves none.
//
// The vocabulary is the word-level test tokenizer's (test/eval/word_tokenizer.h, ~60 ids), so the
// classifier is tiny and the model's capacity goes to the copy the task needs (an induction head).
// Seeds: initialisation 1, training keys and depths 2, evaluation keys 3 (fixed, printed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "eval/passkey.h"
#include "model/model.h"
#include "runtime/rng.h"
#include "test/eval/word_tokenizer.h"
#include "test/test_scale.h"

using namespace lssa;

namespace {
constexpr uint64_t kInitSeed = 1, kTrainSeed = 2, kEvalSeed = 3;
}

TEST(PasskeyEndToEnd, ATinyTrainedModelRetrievesUnseenKeysAtTrainLength) {
  const PasskeyTemplate& tpl = passkey_default_template();
  const lssa_test::WordTokenizer tok({tpl.intro, tpl.filler, tpl.needle, tpl.question});
  GPT2Config c;
  c.L = 2;
  c.NH = 4;
  c.C = 64;
  c.V = tok.vocab_size();
  c.Vp = padded_vocab(c.V);
  c.T_train = 96;
  c.attn = "softmax";
  PasskeyPromptBuilder builder(tok, tpl);
  std::printf("vocabulary %d, prompt without filler %d tokens, T_train %d; seeds init %llu train %llu eval %llu\n", c.V,
              builder.min_len("12345"), c.T_train, (unsigned long long)kInitSeed, (unsigned long long)kTrainSeed,
              (unsigned long long)kEvalSeed);

  auto model = make_cpu_model(c);
  model->set_params(gpt2_init_params(c, kInitSeed));
  PasskeyConfig pc;
  pc.lens = {c.T_train};
  pc.depths = {0.0, 0.5, 1.0};
  pc.keys = passkey_keys(10, kEvalSeed);
  const std::vector<PasskeyCell> before = run_passkey(*model, tok, tpl, pc);
  for (const PasskeyCell& cell : before) EXPECT_EQ(cell.correct, 0) << "untrained, depth " << cell.depth;

  // training documents: a prompt and its answer, T_train + 1 tokens (inputs and shifted targets)
  // 2,000 steps: 1e-2 (after a 20-step warm-up) to step 1,000, then linearly down to 1e-3 at
  // step 2,000. The copy is learned in a jump after step 1,000 (shorter runs retrieve nothing);
  // at a constant 1e-2 past that point the exact-match count swung between 0 and 6 of 30 every
  // 250 steps on an AMD EPYC (OpenBLAS Zen kernels; 19 of 30 at step 1,500 on an Intel Xeon),
  // and the decay holds it (3, 4, 6, 4 of 30 at steps 1,250 … 2,000 on the EPYC, 2026-12-06).
  // Under LSSA_TEST_REDUCED=1 (the sanitizer build, test/test_scale.h) 60 steps: the same training
  // and retrieval code under ASan + UBSan, without the learning claim (checked in the plain build).
  const bool learn = !lssa_test::reduced_tests();
  const int B = 8, T = c.T_train, steps = learn ? 2000 : 60;
  Rng rng(kTrainSeed);
  std::vector<int> x((size_t)B * T), y((size_t)B * T);
  AdamWConfig opt;
  opt.weight_decay = 0.0;
  double loss = 0;
  for (int step = 1; step <= steps; step++) {
    for (int b = 0; b < B; b++) {
      const std::string key = std::to_string(10000 + rng.below(90000));
      PasskeyPrompt p = builder.build(T + 1 - 5, rng.uniform(), key);  // the answer is 5 word tokens
      p.tokens.insert(p.tokens.end(), p.answer.begin(), p.answer.end());
      ASSERT_EQ((int)p.tokens.size(), T + 1);
      for (int t = 0; t < T; t++) {
        x[(size_t)b * T + t] = p.tokens[t];
        y[(size_t)b * T + t] = p.tokens[t + 1];
      }
    }
    loss = model->forward(x.data(), y.data(), B, T);
    model->zero_grad();
    model->backward(1.0f);
    const double norm = model->grad_norm();
    const double decay = step <= 1000 ? 1.0 : 1.0 - 0.9 * std::min(1.0, (step - 1000) / 1000.0);
    const double lr = 1e-2 * std::min(1.0, step / 20.0) * decay;
    model->adamw_step(opt, lr, norm > 1.0 ? 1.0 / norm : 1.0, step);
    if (step % 250 == 0) std::printf("step %d loss %.4f\n", step, loss);
  }

  const std::vector<PasskeyCell> after = run_passkey(*model, tok, tpl, pc);
  int correct = 0, trials = 0, digits_right = 0;
  for (const PasskeyCell& cell : after) {
    std::printf("depth %3.0f%%: %d/%zu correct (key %s -> '%s')\n", 100 * cell.depth, cell.correct, cell.outputs.size(),
                pc.keys[0].c_str(), cell.outputs[0].c_str());
    correct += cell.correct;
    trials += (int)cell.outputs.size();
    for (size_t i = 0; i < cell.outputs.size(); i++) {  // the answer's digits, position by position
      std::string got;
      for (char ch : cell.outputs[i])
        if (ch >= '0' && ch <= '9' && got.size() < 5) got += ch;
      for (size_t d = 0; d < got.size() && d < pc.keys[i].size(); d++) digits_right += got[d] == pc.keys[i][d];
    }
  }
  const double digit_acc = (double)digits_right / (5.0 * trials);
  std::printf("exact: %d of %d; digits right: %d of %d (%.2f)\n", correct, trials, digits_right, 5 * trials, digit_acc);
  EXPECT_EQ(trials, (int)(pc.lens.size() * pc.depths.size() * pc.keys.size()));
  if (!learn) {
    std::printf("LSSA_TEST_REDUCED=1: %d training steps, retrieval not asserted\n", steps);
    return;
  }
  // Chance is 1/90,000 per trial: P(>= 3 exact hits in 30 by chance) < C(30,3)/90,000^3 = 6e-12.
  // Measured: 4 of 30 here (EPYC, 2026-12-06). The model copies the last four digits almost
  // always; the first digit follows "is", a token the filler repeats, so it needs a two-token
  // context match that this 2-layer model learns only for some keys. The digit accuracy (chance
  // 0.1 per digit) shows the copy itself; 0.6 asks for at least three of five on average.
  EXPECT_GE(correct, 3) << correct << " of " << trials;
  EXPECT_GE(digit_acc, 0.6) << digits_right << " of " << 5 * trials << " digits";
}
