#include "app/identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sidecar::app {

namespace {

Result<verifier::PrivateKey> readKeyFile(const std::string& path) {
  std::ifstream f(path);
  if (!f)
    return Status::error("cannot read the sidecar key " + path + ": " + strerror(errno) +
                         " (check --key, or remove it to use <state-dir>/identity.key)");
  std::stringstream ss;
  ss << f.rdbuf();
  auto key = verifier::parsePrivateKey(ss.str());
  if (!key.ok())
    return Status::error("the sidecar key " + path +
                         " is not an Ed25519 private key: " + key.error());
  return *key;
}

Status makeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST)
    return {};
  return Status::error("cannot create the state directory " + dir + ": " + strerror(errno) +
                       " (set --state-dir to a writable directory)");
}

} // namespace

Result<Identity> loadIdentity(const config::ServeConfig& cfg, const char* aimPrivateKey) {
  Identity id;
  if (!cfg.keyFile.empty()) {
    auto key = readKeyFile(cfg.keyFile);
    if (!key.ok())
      return key.status();
    id.key = *key;
    id.source = cfg.keyFile;
    return id;
  }
  if (aimPrivateKey && *aimPrivateKey) {
    auto key = verifier::parsePrivateKey(aimPrivateKey);
    if (!key.ok())
      return Status::error("AIM_PRIVATE_KEY is not an Ed25519 private key: " + key.error());
    id.key = *key;
    id.source = "AIM_PRIVATE_KEY";
    return id;
  }
  if (Status st = makeDir(cfg.stateDir); !st.ok())
    return st;
  return loadOrCreateKey(cfg.stateDir + "/identity.key");
}

Result<Identity> loadOrCreateKey(const std::string& path) {
  Identity id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    auto key = readKeyFile(path);
    if (!key.ok())
      return key.status();
    id.key = *key;
    id.source = path;
    return id;
  }
  // First start: a new key, written once (O_EXCL: two sidecars racing never share a half file).
  id.key = verifier::generatePrivateKey();
  std::string text = verifier::privateKeyFileText(id.key);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) { // made meanwhile by another process: use it
      auto key = readKeyFile(path);
      if (!key.ok())
        return key.status();
      id.key = *key;
      id.source = path;
      return id;
    }
    return Status::error("cannot create the sidecar key " + path + ": " + strerror(errno) +
                         " (set --state-dir to a writable directory, or give --key)");
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::error("cannot write the sidecar key " + path + ": " + strerror(err));
  }
  id.source = path;
  id.created = true;
  return id;
}

} // namespace sidecar::app
