// FuseUringSwitch: the fuse module's `enable_uring` parameter, turned on for
// a test of FUSE over io-uring (ServerOptions::io_uring) and put back after.
// The kernel offers io_uring at INIT only while it is on; it lets only the
// connections that ask for rings have them, so other mounts are unaffected.
//
//   FuseUringSwitch uring;
//   if (!uring.why_not().empty()) GTEST_SKIP() << uring.why_not();
//
// Writing it needs root and a writable /sys (not Bazel's sandbox: tag such
// tests "no-sandbox"), and since it is one switch for the machine, tests
// that flip it should be "exclusive".
#pragma once

#include <fstream>
#include <string>

namespace fusekit {

class FuseUringSwitch {
 public:
  static constexpr char kPath[] = "/sys/module/fuse/parameters/enable_uring";

  FuseUringSwitch() {
    found_ = Read();
    if (found_.empty()) {
      why_not_ = "this kernel has no FUSE over io-uring (no " + std::string(kPath) + ")";
    } else if (found_ != "Y" && !Set(true)) {
      why_not_ = "cannot turn on " + std::string(kPath) + " (needs root and a writable /sys)";
    }
  }
  ~FuseUringSwitch() {
    if (found_ == "N") Set(false);
  }
  FuseUringSwitch(const FuseUringSwitch&) = delete;
  FuseUringSwitch& operator=(const FuseUringSwitch&) = delete;

  // "" when connections may ask for io_uring; otherwise why they cannot.
  const std::string& why_not() const { return why_not_; }

  // "Y", "N", or "" when the parameter does not exist.
  static std::string Read() {
    std::ifstream in(kPath);
    std::string value;
    in >> value;
    return value;
  }
  // Sets the parameter (a test of the off case may); true if it took.
  static bool Set(bool on) {
    {
      std::ofstream out(kPath);
      out << (on ? "Y" : "N");
      if (!out.good()) return false;
    }
    return Read() == (on ? "Y" : "N");
  }

 private:
  std::string found_;
  std::string why_not_;
};

}  // namespace fusekit
