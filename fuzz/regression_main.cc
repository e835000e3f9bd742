// A main() for a libFuzzer target without libFuzzer, so the target runs in
// the ordinary `bazel test //...` (gcc, no sanitizer runtime needed):
//
//   regression_test [--random=N] [--seed=S] [--max_len=L] PATH...
//
// Runs LLVMFuzzerTestOneInput on every file under each PATH (a file, or a
// directory read recursively, in sorted order), then on N deterministic
// pseudo-random inputs made from seed S: half are mutations of the corpus
// files (bit flips, byte overwrites, inserts, erasures, truncations and
// splices), half plain random bytes. Same seed, same inputs.
//
// If an input crashes the target, it is written to a file (in
// $TEST_UNDECLARED_OUTPUTS_DIR, else /tmp) whose path is printed, to be fed
// to the fuzzer binary or to this program as a PATH.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

// The input being run, for the crash handler.
const Bytes* g_current = nullptr;
char g_crash_path[4096];

void OnCrash(int signo) {
  if (g_current != nullptr) {
    int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, g_current->data(), g_current->size());
      ::close(fd);
      const char msg[] = "\nregression: the crashing input is in ";
      (void)!::write(2, msg, sizeof(msg) - 1);
      (void)!::write(2, g_crash_path, strlen(g_crash_path));
      (void)!::write(2, "\n", 1);
    }
  }
  signal(signo, SIG_DFL);
  raise(signo);
}

void InstallCrashHandler() {
  const char* dir = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  snprintf(g_crash_path, sizeof(g_crash_path), "%s/crash-input-%d", dir ? dir : "/tmp",
           static_cast<int>(getpid()));
  for (int s : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(s, OnCrash);
}

bool ReadFile(const std::string& path, Bytes* out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  out->clear();
  uint8_t buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out->insert(out->end(), buf, buf + n);
  fclose(f);
  return true;
}

void Collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    fprintf(stderr, "regression: cannot stat %s\n", path.c_str());
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    names.push_back(e->d_name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) Collect(path + "/" + name, files);
}

void Run(const Bytes& input) {
  g_current = &input;
  // An exactly-sized heap copy, as libFuzzer passes it.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + 1]);
  if (!input.empty()) memcpy(copy.get(), input.data(), input.size());
  LLVMFuzzerTestOneInput(copy.get(), input.size());
  g_current = nullptr;
}

// Deterministic: only the engine's raw output is used (distributions are
// implementation-defined).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t Next() { return engine_(); }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(engine_() % n); }
  uint8_t Byte() {
    // Interesting values now and then, as fuzzers like them.
    static const uint8_t kSpecial[] = {0, 1, 0x7f, 0x80, 0xff, '/', '.', 8, 16, 40};
    if (Below(4) == 0) return kSpecial[Below(sizeof(kSpecial))];
    return static_cast<uint8_t>(engine_());
  }

 private:
  std::mt19937_64 engine_;
};

Bytes Mutate(const Bytes& seed, const std::vector<Bytes>& corpus, Rng& rng, size_t max_len) {
  Bytes b = seed;
  int rounds = 1 + static_cast<int>(rng.Below(8));
  for (int r = 0; r < rounds; ++r) {
    switch (rng.Below(7)) {
      case 0:  // flip a bit
        if (!b.empty()) b[rng.Below(b.size())] ^= static_cast<uint8_t>(1u << rng.Below(8));
        break;
      case 1:  // overwrite a byte
        if (!b.empty()) b[rng.Below(b.size())] = rng.Byte();
        break;
      case 2: {  // overwrite a little-endian 16/32-bit field
        if (b.size() < 4) break;
        size_t at = rng.Below(b.size() - 3);
        uint32_t v = rng.Below(2) ? static_cast<uint32_t>(rng.Below(70000))
                                  : static_cast<uint32_t>(rng.Next());
        memcpy(&b[at], &v, rng.Below(2) ? 2 : 4);
        break;
      }
      case 3: {  // insert bytes
        size_t at = rng.Below(b.size() + 1);
        size_t n = 1 + rng.Below(16);
        Bytes ins(n);
        for (auto& c : ins) c = rng.Byte();
        b.insert(b.begin() + at, ins.begin(), ins.end());
        break;
      }
      case 4: {  // erase bytes
        if (b.empty()) break;
        size_t at = rng.Below(b.size());
        size_t n = 1 + rng.Below(std::min<size_t>(16, b.size() - at));
        b.erase(b.begin() + at, b.begin() + at + n);
        break;
      }
      case 5:  // truncate
        b.resize(rng.Below(b.size() + 1));
        break;
      case 6: {  // splice in a piece of another input
        const Bytes& other = corpus[rng.Below(corpus.size())];
        if (other.empty()) break;
        size_t from = rng.Below(other.size());
        size_t n = 1 + rng.Below(other.size() - from);
        b.insert(b.begin() + rng.Below(b.size() + 1), other.begin() + from,
                 other.begin() + from + n);
        break;
      }
    }
  }
  if (b.size() > max_len) b.resize(max_len);
  return b;
}

Bytes RandomBytes(Rng& rng, size_t max_len) {
  // Mostly short, sometimes long.
  size_t len = rng.Below(8) == 0 ? rng.Below(max_len + 1) : rng.Below(513);
  Bytes b(len);
  for (auto& c : b) c = rng.Byte();
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  long random_inputs = 20000;
  uint64_t seed = 20240601;
  size_t max_len = 70000;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--random=", 0) == 0) {
      random_inputs = strtol(arg.c_str() + 9, nullptr, 10);
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = strtoull(arg.c_str() + 7, nullptr, 10);
    } else if (arg.rfind("--max_len=", 0) == 0) {
      max_len = strtoull(arg.c_str() + 10, nullptr, 10);
    } else {
      Collect(arg, &files);
    }
  }
  InstallCrashHandler();

  std::vector<Bytes> corpus;
  for (const std::string& path : files) {
    Bytes b;
    if (!ReadFile(path, &b)) {
      fprintf(stderr, "regression: cannot read %s\n", path.c_str());
      return 2;
    }
    Run(b);
    corpus.push_back(std::move(b));
  }
  printf("regression: %zu corpus files ran clean\n", corpus.size());
  if (corpus.empty()) corpus.push_back(Bytes());

  Rng rng(seed);
  for (long i = 0; i < random_inputs; ++i) {
    Bytes input = rng.Below(2) == 0 ? Mutate(corpus[rng.Below(corpus.size())], corpus, rng, max_len)
                                    : RandomBytes(rng, max_len);
    Run(input);
  }
  printf("regression: %ld random inputs (seed %llu) ran clean\n", random_inputs,
         static_cast<unsigned long long>(seed));
  return 0;
}
