#pragma once
// Helpers shared by the clients tests: the fixtures under tests/data/clients/ (found through
// SIDECAR_SOURCE_DIR, a compile definition of the test binary), whole-file access, and parsing a
// fixture as a given client's file.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "clients/config_file.h"
#include "tests/support/temp_dir.h"

#ifndef SIDECAR_SOURCE_DIR
#error "SIDECAR_SOURCE_DIR must name the source tree (target_compile_definitions)"
#endif

namespace sidecar::clients::test {

using sidecar::test::TempDir;

inline std::string fixturePath(const std::string& name) {
  return std::string(SIDECAR_SOURCE_DIR) + "/tests/data/clients/" + name;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << "cannot write " << path;
  out << data;
}

inline std::string fixture(const std::string& name) {
  return readFile(fixturePath(name));
}

// A Source for text that is not on disk.
inline Source sourceOf(Client client, Layout layout, const std::string& path = "test.json",
                       std::string scope = "user") {
  Source s;
  s.client = client;
  s.layout = layout;
  s.path = path;
  s.scope = std::move(scope);
  s.jsonc = client == Client::VsCode || client == Client::Cursor || client == Client::Other;
  return s;
}

// Parses `text` as `source`'s file; fails the test when it does not parse.
inline ConfigFile parsed(const Source& source, const std::string& text) {
  ConfigRead r = parseConfig(source, text, FileMeta{});
  EXPECT_EQ(r.status, ConfigRead::Status::Ok) << r.error;
  return std::move(r.file);
}

// Runs `f` in a forked child that, when we are root, first becomes user and group 65534
// (nobody), so that permission errors can be tested as root too; returns what `f` returned.
inline std::string asAnotherUser(const std::function<std::string()>& f) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(3);
    std::string out = f();
    ssize_t n = ::write(fds[1], out.data(), out.size());
    ::_exit(n == static_cast<ssize_t>(out.size()) ? 0 : 4);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return got;
}

} // namespace sidecar::clients::test
