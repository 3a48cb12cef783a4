// prepare_data: text / folder / JSONL inputs -> llm.c token shards (train and validation).
//
// What: every document is "<|endoftext|>" (50256) followed by its GPT-2 tokens, as llm.c's
// fineweb.py writes them (--tokenizer gpt2), or the separator 256 followed by its bytes
// (--tokenizer bytes, data/byte_tokenizer.h; the shard header records which, data/shard.h); documents are concatenated and cut into shards of --shard-tokens
// tokens (the last shard of a split may be shorter), named PREFIX_train_000000.bin, ... and
// PREFIX_val_000000.bin, ... in llm.c's shard format.
//
// How:
//  - Inputs: a file is one document; a folder gives every regular file below it (sorted by
//    path), each one document; a file whose name ends in ".jsonl" gives one document per line
//    (the "text" string of a JSON object). Text is not altered (CRLF handling is the caller's).
//  - Validation split, always by whole documents: --val-inputs (those inputs), --val-docs K
//    (the first K documents), or --val-fraction F (whole documents from the end until at least
//    F of all tokens; this needs the token count of every document first, so the inputs are
//    tokenised twice rather than held in memory).
//  - Documents are read in batches and tokenised by --threads threads; results are consumed in
//    document order, so the output bytes do not depend on the thread count.
//  - Shards are written into a hidden staging folder next to the output and moved into place
//    only when everything succeeded; on any error the staging folder is removed, so a failed
//    run leaves no shard files behind (and leaves the shards of an earlier run untouched).
//    Shards of an earlier run with the same prefix that this run did not rewrite (e.g. shard 7
//    when this run wrote only 0-3) are removed on success, so a loader that globs
//    PREFIX_train_*.bin never mixes two runs.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/shard.h"
#include "data/tokenizer.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;

namespace {

struct Options {
  std::string tokenizer = "gpt2";  // gpt2 | bytes
  std::string tokenizer_dir, out_prefix;
  int64_t shard_tokens = 100000000;
  int64_t val_docs = 0;
  double val_fraction = 0;
  std::vector<std::string> val_inputs, inputs;
  int threads = 0;
  int64_t min_doc_tokens = 0;
  bool progress = true;
};

// ---------------------------------------------------------------------------------------------
// Inputs.

struct Source {
  std::string path;
  bool jsonl = false;
  bool val = false;  // from --val-inputs
};

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

void list_folder(const std::string& dir, std::vector<std::string>& out) {
  DIR* d = opendir(dir.c_str());
  if (!d) fail(strfmt("cannot read folder %s: %s", dir.c_str(), std::strerror(errno)));
  std::vector<std::string> names;
  while (dirent* e = readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());  // byte order: the same on every machine
  for (const std::string& name : names) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // a dangling link inside a folder is not a document
    if (S_ISDIR(st.st_mode))
      list_folder(path, out);
    else if (S_ISREG(st.st_mode))
      out.push_back(path);
  }
}

void add_sources(const std::vector<std::string>& inputs, bool val, std::vector<Source>& out) {
  for (std::string input : inputs) {
    while (input.size() > 1 && input.back() == '/') input.pop_back();
    struct stat st;
    if (::stat(input.c_str(), &st) != 0)
      fail(strfmt("input %s: %s", input.c_str(), std::strerror(errno)));
    std::vector<std::string> files;
    if (S_ISDIR(st.st_mode))
      list_folder(input, files);
    else if (S_ISREG(st.st_mode))
      files.push_back(input);
    else
      fail(strfmt("input %s is neither a regular file nor a folder", input.c_str()));
    for (const std::string& f : files) out.push_back({f, ends_with(f, ".jsonl"), val});
  }
}

std::string read_text_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(strfmt("cannot read %s: %s", path.c_str(), std::strerror(errno)));
  struct stat st;
  std::string text;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) text.reserve((size_t)st.st_size);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      fail(strfmt("cannot read %s: %s", path.c_str(), std::strerror(e)));
    }
    if (n == 0) break;
    text.append(buf, (size_t)n);
  }
  ::close(fd);
  return text;
}

struct Document {
  std::string text;
  bool val_input = false;
};

// Yields the documents of all sources in order, a batch at a time.
class DocumentStream {
 public:
  explicit DocumentStream(const std::vector<Source>& sources) : sources_(sources) {}

  // Fills batch with the next documents (at least one unless the inputs are exhausted).
  void next_batch(std::vector<Document>& batch, size_t max_bytes, size_t max_docs) {
    batch.clear();
    size_t bytes = 0;
    while (bytes < max_bytes && batch.size() < max_docs && next(batch)) bytes += batch.back().text.size();
  }

 private:
  bool next(std::vector<Document>& batch) {
    while (index_ < sources_.size()) {
      const Source& src = sources_[index_];
      if (!src.jsonl) {
        batch.push_back({read_text_file(src.path), src.val});
        index_++;
        return true;
      }
      if (!jsonl_.is_open()) {
        jsonl_.open(src.path, std::ios::binary);
        if (!jsonl_) fail(strfmt("cannot read %s: %s", src.path.c_str(), std::strerror(errno)));
        line_no_ = 0;
      }
      while (std::getline(jsonl_, line_)) {
        line_no_++;
        if (line_.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
        std::string text;
        std::string why;
        try {
          nlohmann::json j = nlohmann::json::parse(line_);
          if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
            why = "not a JSON object with a \"text\" string";
          else
            text = j["text"].get<std::string>();
        } catch (const nlohmann::json::exception& e) {
          why = e.what();
          for (char& c : why)
            if (c == '\n' || c == '\r') c = ' ';
        }
        if (!why.empty()) fail(strfmt("%s line %lld: malformed JSONL: %s", src.path.c_str(), (long long)line_no_, why.c_str()));
        batch.push_back({std::move(text), src.val});
        return true;
      }
      if (jsonl_.bad()) fail(strfmt("cannot read %s: %s", src.path.c_str(), std::strerror(errno)));
      jsonl_.close();
      jsonl_.clear();
      index_++;
    }
    return false;
  }

  const std::vector<Source>& sources_;
  size_t index_ = 0;
  std::ifstream jsonl_;
  std::string line_;
  int64_t line_no_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Progress on stderr: a line rewritten in place on a terminal, a new line every 10 s otherwise.

class Progress {
 public:
  Progress(bool enabled, const char* label)
      : enabled_(enabled), label_(label), tty_(isatty(2)), t0_(now()), last_(t0_) {}
  void update(int64_t docs, int64_t bytes, bool final = false) {
    if (!enabled_) return;
    double t = now();
    if (!final && t - last_ < (tty_ ? 0.25 : 10.0)) return;
    last_ = t;
    double mb = bytes / 1e6, secs = std::max(t - t0_, 1e-9);
    std::fprintf(stderr, "%s%s: %lld documents, %.1f MB, %.1f MB/s%s", tty_ ? "\r" : "", label_,
                 (long long)docs, mb, mb / secs, tty_ && !final ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  bool enabled_;
  const char* label_;
  bool tty_;
  double t0_, last_;
};

// ---------------------------------------------------------------------------------------------
// Tokenising: batches of documents, encoded in parallel, handed on in document order.

// Called once per document in input order with its tokens (EOT first).
using DocumentSink = std::function<void(const Document&, const std::vector<int32_t>&)>;

void tokenize_all(const std::vector<Source>& sources, const Tokenizer& tok, int threads,
                  Progress& progress, const DocumentSink& sink) {
  DocumentStream stream(sources);
  std::vector<Document> batch;
  std::vector<std::vector<int32_t>> tokens;
  int64_t docs_done = 0, bytes_done = 0;
  for (;;) {
    stream.next_batch(batch, 32u << 20, 8192);
    if (batch.empty()) break;
    tokens.resize(batch.size());
    std::atomic<size_t> next{0};
    std::atomic<int> running{threads};
    std::atomic<int64_t> docs_in_batch{0}, bytes_in_batch{0};
    std::mutex mu;
    std::condition_variable cv;
    std::exception_ptr error;
    auto work = [&] {
      try {
        for (size_t i; (i = next.fetch_add(1)) < batch.size();) {
          tokens[i].clear();
          tokens[i].push_back(tok.eot_token());
          tok.encode_append(batch[i].text, tokens[i]);
          docs_in_batch++;
          bytes_in_batch += (int64_t)batch[i].text.size();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
        next = batch.size();
      }
      std::lock_guard<std::mutex> lock(mu);
      running--;
      cv.notify_all();
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) pool.emplace_back(work);
    {
      std::unique_lock<std::mutex> lock(mu);
      while (running > 0) {
        cv.wait_for(lock, std::chrono::milliseconds(250));
        progress.update(docs_done + docs_in_batch, bytes_done + bytes_in_batch);
      }
    }
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
    for (size_t i = 0; i < batch.size(); i++) sink(batch[i], tokens[i]);
    docs_done += (int64_t)batch.size();
    bytes_done += bytes_in_batch;
  }
  progress.update(docs_done, bytes_done, true);
}

// ---------------------------------------------------------------------------------------------
// Output: shards staged in a hidden folder, published at the end.

class ShardOutput {
 public:
  ShardOutput(const std::string& prefix, int64_t shard_tokens, int32_t tokenizer_tag)
      : shard_tokens_(shard_tokens), tokenizer_tag_(tokenizer_tag) {
    size_t slash = prefix.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : prefix.substr(0, slash);
    name_ = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
    if (name_.empty()) fail(strfmt("--out-prefix %s has no file name part (expected DIR/NAME)", prefix.c_str()));
    make_dirs(dir_);
    remove_dead_staging();
    staging_ = dir_ + "/." + name_ + ".prepare_data." + std::to_string(getpid());
    if (::mkdir(staging_.c_str(), 0755) != 0)
      fail(strfmt("cannot create %s: %s", staging_.c_str(), std::strerror(errno)));
  }
  ~ShardOutput() {
    if (!published_) {  // error path: nothing written by this run survives
      for (const std::string& f : staged_) ::unlink((staging_ + "/" + f).c_str());
      ::rmdir(staging_.c_str());
    }
  }

  struct Split {
    const char* name;
    std::vector<uint16_t> buffer;
    int64_t tokens = 0, documents = 0;
    int shards = 0;
  };
  Split train{"train", {}}, val{"val", {}};

  void add(Split& split, const std::vector<int32_t>& tokens) {
    split.documents++;
    split.tokens += (int64_t)tokens.size();
    size_t i = 0;
    while (i < tokens.size()) {  // a document may straddle two shards, as in llm.c
      size_t room = (size_t)(shard_tokens_ - (int64_t)split.buffer.size());
      size_t take = std::min(room, tokens.size() - i);
      split.buffer.insert(split.buffer.end(), tokens.begin() + i, tokens.begin() + i + take);
      i += take;
      if ((int64_t)split.buffer.size() == shard_tokens_) flush(split);
    }
  }

  // Writes the last partial shards, moves all shards into place, removes stale ones.
  void publish() {
    flush(train);
    flush(val);
    std::vector<std::string> published;
    for (const std::string& f : staged_) {
      std::string from = staging_ + "/" + f, to = dir_ + "/" + f;
      if (std::rename(from.c_str(), to.c_str()) != 0)
        fail(strfmt("cannot move %s to %s: %s", from.c_str(), to.c_str(), std::strerror(errno)));
      published.push_back(f);
    }
    published_ = true;
    ::rmdir(staging_.c_str());
    // Shards with this prefix from an earlier run that this run did not rewrite.
    for (const char* split : {"train", "val"})
      for (const std::string& path : glob_files(dir_ + "/" + name_ + "_" + split + "_[0-9][0-9][0-9][0-9][0-9][0-9].bin")) {
        std::string f = path.substr(path.find_last_of('/') + 1);
        if (std::find(published.begin(), published.end(), f) == published.end() && ::unlink(path.c_str()) == 0)
          removed_.push_back(path);
      }
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  const std::vector<std::pair<std::string, int64_t>>& shards() const { return shards_; }
  const std::vector<std::string>& removed() const { return removed_; }

 private:
  void flush(Split& split) {
    if (split.buffer.empty()) return;
    char file[64];
    std::snprintf(file, sizeof file, "_%s_%06d.bin", split.name, split.shards++);
    std::string f = name_ + file;
    staged_.push_back(f);
    shard_write(staging_ + "/" + f, split.buffer, tokenizer_tag_);
    shards_.push_back({dir_ + "/" + f, (int64_t)split.buffer.size()});
    split.buffer.clear();
  }

  // A run killed mid-way leaves its staging folder; remove those whose process is gone.
  void remove_dead_staging() {
    for (const std::string& path : glob_files(dir_ + "/." + name_ + ".prepare_data.*")) {
      long pid = std::atol(path.substr(path.find_last_of('.') + 1).c_str());
      if (pid <= 0 || (::kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
      }
    }
  }

  int64_t shard_tokens_;
  int32_t tokenizer_tag_;
  std::string dir_, name_, staging_;
  std::vector<std::string> staged_, removed_;
  std::vector<std::pair<std::string, int64_t>> shards_;
  bool published_ = false;
};

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = (int)s.size() - 3; i > 0; i -= 3) s.insert((size_t)i, ",");
  return s;
}

int run(const Options& opt) {
  std::vector<Source> sources;
  add_sources(opt.inputs, false, sources);
  add_sources(opt.val_inputs, true, sources);
  for (const Source& v : sources)
    if (v.val)
      for (const Source& t : sources)
        if (!t.val && t.path == v.path)
          fail(strfmt("%s is both a training input and a --val-inputs input", v.path.c_str()));
  // Training inputs first, then validation inputs: the order only matters within a split.
  std::string tok_dir = opt.tokenizer_dir;
  if (opt.tokenizer == "gpt2" && tok_dir.empty()) tok_dir = default_tokenizer_dir();
  const std::unique_ptr<Tokenizer> tok_ptr =
      opt.tokenizer == "gpt2" ? std::make_unique<Gpt2Tokenizer>(tok_dir) : open_tokenizer_kind(opt.tokenizer, "");
  const Tokenizer& tok = *tok_ptr;
  const int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());

  // A document is kept when it has text tokens and at least --min-doc-tokens of them.
  int64_t empty_docs = 0, short_docs = 0;
  auto keep = [&](const std::vector<int32_t>& tokens) {
    int64_t text_tokens = (int64_t)tokens.size() - 1;
    if (text_tokens == 0) {
      empty_docs++;
      return false;
    }
    if (text_tokens < opt.min_doc_tokens) {
      short_docs++;
      return false;
    }
    return true;
  };

  // --val-fraction: first pass counts each kept document's tokens to find the split point.
  int64_t first_val_doc = INT64_MAX;  // index among kept documents
  if (opt.val_fraction > 0) {
    std::vector<int64_t> doc_tokens;
    Progress progress(opt.progress, "prepare_data (pass 1/2, counting)");
    tokenize_all(sources, tok, threads, progress, [&](const Document&, const std::vector<int32_t>& t) {
      if (keep(t)) doc_tokens.push_back((int64_t)t.size());
    });
    int64_t total = 0, val = 0;
    for (int64_t n : doc_tokens) total += n;
    int64_t k = (int64_t)doc_tokens.size();
    while (k > 0 && (double)val < opt.val_fraction * (double)total) val += doc_tokens[--k];
    first_val_doc = k;
    empty_docs = short_docs = 0;  // counted again in the second pass
  }

  ShardOutput out(opt.out_prefix, opt.shard_tokens, tokenizer_tag_of_kind(opt.tokenizer));
  int64_t kept = 0;
  int64_t bytes = 0;
  Progress progress(opt.progress, opt.val_fraction > 0 ? "prepare_data (pass 2/2)" : "prepare_data");
  tokenize_all(sources, tok, threads, progress, [&](const Document& doc, const std::vector<int32_t>& t) {
    bytes += (int64_t)doc.text.size();
    if (!keep(t)) return;
    bool val = doc.val_input || kept < opt.val_docs || kept >= first_val_doc;
    out.add(val ? out.val : out.train, t);
    kept++;
  });

  std::string dropped;
  if (empty_docs) dropped += strfmt(", %lld empty skipped", (long long)empty_docs);
  if (opt.min_doc_tokens > 0)
    dropped += strfmt(", %lld dropped for having fewer than %lld tokens", (long long)short_docs,
                      (long long)opt.min_doc_tokens);
  if (kept == 0) fail("the inputs hold no documents with text" + dropped);
  if (out.train.documents == 0)
    fail(strfmt("no training documents left: all %lld documents went to the validation split", (long long)kept));
  bool want_val = opt.val_docs > 0 || opt.val_fraction > 0 || !opt.val_inputs.empty();
  if (want_val && out.val.documents == 0) fail("the validation split is empty (the --val-inputs hold no documents with text)");
  out.publish();

  std::printf("documents: %s (train %s, val %s)%s\n", with_commas(kept).c_str(),
              with_commas(out.train.documents).c_str(), with_commas(out.val.documents).c_str(), dropped.c_str());
  std::printf("text: %.2f MB read\n", bytes / 1e6);
  std::printf("tokens: %s (train %s, val %s), %s ids (V = %d), each document starting with %d\n",
              with_commas(out.train.tokens + out.val.tokens).c_str(), with_commas(out.train.tokens).c_str(),
              with_commas(out.val.tokens).c_str(), tok.kind(), tok.vocab_size(), tok.eot_token());
  std::printf("shards written: %zu\n", out.shards().size());
  for (const auto& s : out.shards()) std::printf("  %s  %s tokens\n", s.first.c_str(), with_commas(s.second).c_str());
  for (const std::string& r : out.removed()) std::printf("removed stale shard from an earlier run: %s\n", r.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{
      "prepare_data: tokenise text with GPT-2 BPE (or bytes) into llm.c token shards.\n"
      "Each document is written as EOT (50256) + its tokens, or with --tokenizer bytes as the\n"
      "separator 256 + its bytes (V = 257). INPUT: a text file (one document),\n"
      "a folder (every regular file below it, sorted, one document each) or a .jsonl file (one\n"
      "document per line: a JSON object with a \"text\" string). The validation split takes whole\n"
      "documents only."};
  app.add_option("--tokenizer", opt.tokenizer, "gpt2 (BPE, V = 50257) | bytes (a token per byte, V = 257)")
      ->capture_default_str()
      ->check(CLI::IsMember({"gpt2", "bytes"}));
  app.add_option("--tokenizer-dir", opt.tokenizer_dir,
                 "folder with encoder.json and vocab.bpe (gpt2; default: $LSSA_DATA_DIR/tokenizer)");
  app.add_option("--out-prefix", opt.out_prefix,
                 "PATH/NAME: writes PATH/NAME_train_000000.bin, ... and PATH/NAME_val_000000.bin, ...")
      ->required();
  app.add_option("--shard-tokens", opt.shard_tokens, "tokens per shard (the last shard may hold fewer)")
      ->capture_default_str()
      ->check(CLI::Range((int64_t)1, (int64_t)INT32_MAX));
  auto* vd = app.add_option("--val-docs", opt.val_docs, "the first K documents (counted after --min-doc-tokens) form the validation split")
                 ->check(CLI::PositiveNumber);
  auto* vf = app.add_option("--val-fraction", opt.val_fraction,
                            "whole documents from the end form the validation split, until it holds at least F of all tokens")
                 ->check(CLI::Range(0.0, 1.0));
  auto* vi = app.add_option("--val-inputs", opt.val_inputs,
                            "inputs (files, folders, .jsonl) that form the validation split; it takes the "
                            "arguments that follow it, so give it after the INPUTs or end its list with --");
  vd->excludes(vf)->excludes(vi);
  vf->excludes(vi);
  app.add_option("--threads", opt.threads, "tokeniser threads (default: all cores)")->check(CLI::PositiveNumber);
  app.add_option("--min-doc-tokens", opt.min_doc_tokens,
                 "drop documents with fewer text tokens than this (the EOT not counted)")
      ->check(CLI::NonNegativeNumber);
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "no progress line on stderr");
  app.add_option("INPUT", opt.inputs, "training inputs: files, folders, .jsonl files")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "error: %s (see prepare_data --help)\n", e.what());
    return 1;
  }
  opt.progress = !no_progress;
  // the prefix becomes part of the glob that finds stale shards of an earlier run: a wildcard in
  // it would match (and delete) other datasets' shards
  if (opt.out_prefix.find_first_of("*?[]\\") != std::string::npos) {
    std::fprintf(stderr, "error: --out-prefix '%s' contains a wildcard or escape character (* ? [ ] \\); use a plain path\n",
                 opt.out_prefix.c_str());
    return 1;
  }
  if (opt.val_fraction >= 1.0 || (vf->count() && opt.val_fraction <= 0.0)) {
    std::fprintf(stderr, "error: --val-fraction must be between 0 and 1 (exclusive)\n");
    return 1;
  }
  try {
    return run(opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
