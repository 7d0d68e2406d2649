#pragma once
// The sidecar's own Ed25519 key (spec/cli.md): from --key FILE, else the AIM_PRIVATE_KEY
// variable (the key itself), else <state-dir>/identity.key, made on first start with mode 0600.

#include <string>

#include "common/status.h"
#include "config/serve_config.h"
#include "verifier/keys.h"

namespace sidecar::app {

struct Identity {
  verifier::PrivateKey key;
  std::string source; // where it came from, for the log: a path or "AIM_PRIVATE_KEY"
  bool created = false;
};

Result<Identity> loadIdentity(const config::ServeConfig& cfg, const char* aimPrivateKey);

// The key in `path`, or a new one written there first (mode 0600, never over an existing file;
// two processes racing both end up with the same key). Its directory must exist.
Result<Identity> loadOrCreateKey(const std::string& path);

} // namespace sidecar::app
