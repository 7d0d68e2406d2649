// mcp-sidecar: a verifying, auditing proxy for MCP servers. This file only wires the command line
// to the subcommands; everything else lives in libraries the tests link too.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "app/key_commands.h"
#include "app/serve.h"
#include "common/version.h"
#include "config/serve_config.h"

int main(int argc, char** argv) {
  using namespace sidecar;
  CLI::App app{"mcp-sidecar: a local verification proxy for MCP servers.\n"
               "Docs: README.md and docs/ in the repository."};
  app.set_version_flag("--version",
                       std::string("mcp-sidecar ") + kVersion + " (" + kGitRevision + ")");
  app.require_subcommand(1);

  CLI::App* serve = app.add_subcommand(
      "serve", "Run the proxy in front of an MCP server (--upstream URL).\n"
               "Every flag is also MCP_SIDECAR_<NAME> and a key of the --config YAML file;\n"
               "a flag beats the environment, which beats the file, which beats the default.");
  config::ServeOptions serveOptions;
  serveOptions.registerFlags(*serve);

  app::KeygenOptions keygenOptions;
  app::addKeygenCommand(app, keygenOptions);
  app::SignOptions signOptions;
  app::addSignCommand(app, signOptions);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (serve->parsed()) {
    auto cfg = serveOptions.resolve([](const char* name) { return std::getenv(name); });
    if (!cfg.ok()) {
      std::fprintf(stderr, "mcp-sidecar: invalid configuration: %s\n", cfg.error().c_str());
      return 2;
    }
    return app::runServe(*cfg);
  }
  if (app.got_subcommand("keygen"))
    return app::runKeygen(keygenOptions);
  if (app.got_subcommand("sign"))
    return app::runSign(signOptions);
  return 2;
}
