// tokenize: a small debugging / benchmarking front end to the GPT-2 tokenizer.
//
//   tokenize --tokenizer-dir D encode [--no-special] [--json] [FILE]   ids of FILE (or stdin)
//   tokenize --tokenizer-dir D decode [FILE]                           ids (any separators) -> bytes
//   tokenize --tokenizer-dir D bench [--repeat N] FILE...              encoder throughput, MB/s
//   tokenize --tokenizer-dir D llmc-bin OUT                            llm.c's gpt2_tokenizer.bin
//
// bench reads all files first, then times encode() over their concatenation-as-documents on
// one thread; the first pass (cold piece cache) and the best of the later passes are reported.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <sstream>

#include "data/tokenizer.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;

static std::string read_input(const std::string& path) {
  if (path.empty() || path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::vector<uint8_t> b = read_file(path);
  return std::string(b.begin(), b.end());
}

static double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  CLI::App app{"tokenize: encode / decode text with the GPT-2 tokenizer (debugging, benchmarks)"};
  std::string dir;
  app.add_option("--tokenizer-dir", dir, "folder with encoder.json and vocab.bpe")->required();
  app.require_subcommand(1);

  auto* enc = app.add_subcommand("encode", "print the token ids of FILE (stdin when absent)");
  std::string enc_file;
  bool no_special = false, json = false;
  enc->add_option("FILE", enc_file);
  enc->add_flag("--no-special", no_special, "treat <|endoftext|> as ordinary text");
  enc->add_flag("--json", json, "print a JSON array instead of one line of space-separated ids");

  auto* dec = app.add_subcommand("decode", "read ids (separated by anything non-numeric) and write their bytes");
  std::string dec_file;
  dec->add_option("FILE", dec_file);

  auto* bench = app.add_subcommand("bench", "encoder throughput on files (one thread)");
  std::vector<std::string> bench_files;
  int repeat = 5;
  bench->add_option("FILE", bench_files)->required();
  bench->add_option("--repeat", repeat, "timed passes")->capture_default_str()->check(CLI::PositiveNumber);

  auto* llmc = app.add_subcommand("llmc-bin", "write llm.c's gpt2_tokenizer.bin");
  std::string llmc_out;
  llmc->add_option("OUT", llmc_out)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s (see tokenize --help)\n", e.what());
    return 1;
  }
  try {
    Gpt2Tokenizer tok(dir);
    if (*enc) {
      std::vector<int32_t> ids = tok.encode(read_input(enc_file), !no_special);
      std::string out = json ? "[" : "";
      for (size_t i = 0; i < ids.size(); i++) {
        if (i) out += json ? "," : " ";
        out += std::to_string(ids[i]);
      }
      out += json ? "]\n" : "\n";
      std::fwrite(out.data(), 1, out.size(), stdout);
    } else if (*dec) {
      std::string in = read_input(dec_file);
      std::vector<int32_t> ids;
      for (size_t i = 0; i < in.size();) {
        if (in[i] < '0' || in[i] > '9') {
          i++;
          continue;
        }
        long long v = 0;
        while (i < in.size() && in[i] >= '0' && in[i] <= '9' && v < (1LL << 40)) v = v * 10 + (in[i++] - '0');
        if (v >= kGpt2VocabSize) fail(strfmt("token id %lld is outside the GPT-2 vocabulary", v));
        ids.push_back((int32_t)v);
      }
      std::string bytes = tok.decode(ids);
      std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    } else if (*bench) {
      std::vector<std::string> docs;
      double mb = 0;
      for (const auto& f : bench_files) {
        docs.push_back(read_input(f));
        mb += docs.back().size() / 1e6;
      }
      size_t ntok = 0;
      double first = 0, best = 1e30;
      for (int r = 0; r <= repeat; r++) {
        double t0 = seconds();
        ntok = 0;
        for (const auto& d : docs) ntok += tok.encode(d).size();
        double dt = seconds() - t0;
        if (r == 0)
          first = dt;
        else
          best = std::min(best, dt);
      }
      if (repeat == 0) best = first;
      std::printf("{\"encoder\": \"lssa C++\", \"files\": %zu, \"MB\": %.3f, \"tokens\": %zu, "
                  "\"first_pass_MB_s\": %.2f, \"best_MB_s\": %.2f}\n",
                  docs.size(), mb, ntok, mb / first, mb / best);
    } else if (*llmc) {
      tok.write_llmc_tokenizer_bin(llmc_out);
      std::printf("wrote %s (%d tokens)\n", llmc_out.c_str(), tok.vocab_size());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
