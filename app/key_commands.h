#pragma once
// `mcp-sidecar keygen` and `mcp-sidecar sign`: make a caller key, and sign one request so that a
// person can call a protected server from a shell (docs/signing.md).

#include <string>

namespace CLI {
class App;
}

namespace sidecar::app {

struct KeygenOptions {
  std::string out;
  std::string id;
};

struct SignOptions {
  std::string key;
  std::string url;
  std::string method = "POST";
  std::string data;
  bool dataGiven = false;
  std::string dataFile;
  std::string session;
  std::string keyId;
  bool curl = false;
};

void addKeygenCommand(CLI::App& app, KeygenOptions& o);
void addSignCommand(CLI::App& app, SignOptions& o);

// Exit status: 0 done, 1 failed (the message names the file and what to do), 2 bad usage.
int runKeygen(const KeygenOptions& o);
int runSign(const SignOptions& o);

} // namespace sidecar::app
