// mcp-sidecar: a verifying, auditing proxy for MCP servers. This file only wires the command line
// to the subcommands; everything else lives in libraries the tests link too.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/client_commands.h"
#include "app/connect_command.h"
#include "app/drift_command.h"
#include "app/key_commands.h"
#include "app/serve.h"
#include "app/stdio_command.h"
#include "audit/audit_verify.h"
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
      "serve", "Run the proxy in front of an MCP server (--upstream URL, or -- COMMAND ARGS...\n"
               "for a stdio server it starts and serves over Streamable HTTP).\n"
               "Every flag is also MCP_SIDECAR_<NAME> and a key of the --config YAML file;\n"
               "a flag beats the environment, which beats the file, which beats the default.");
  config::ServeOptions serveOptions;
  serveOptions.registerFlags(*serve);

  app::KeygenOptions keygenOptions;
  app::addKeygenCommand(app, keygenOptions);
  app::SignOptions signOptions;
  app::addSignCommand(app, signOptions);

  CLI::App* audit = app.add_subcommand("audit", "Work with the audit trail.");
  audit->require_subcommand(1);
  CLI::App* auditVerify = audit->add_subcommand(
      "verify", "Check an audit trail: the hash chain, the order across rotated files and every\n"
                "checkpoint signature against --key. Exit 0 intact (an unsealed tail is a\n"
                "warning), 1 broken (the first broken record is named), 2 not checkable.");
  std::string auditKey;
  std::vector<std::string> auditFiles;
  auditVerify
      ->add_option("--key", auditKey,
                   "the sidecar's public key (any form: base64, hex, PEM, JWK, ...); never "
                   "one read from the trail itself")
      ->required();
  auditVerify->add_option("files", auditFiles, "the trail's files, rotated ones included")
      ->required();

  app::DriftAcceptOptions driftOptions;
  CLI::App* driftAccept = app::addDriftCommand(app, driftOptions);

  app::DetectOptions detectOptions;
  CLI::App* detect = app::addDetectCommand(app, detectOptions);
  app::WrapCommandOptions wrapOptions;
  CLI::App* wrap = app::addWrapCommand(app, wrapOptions);
  app::RegisterCommandOptions registerOptions;
  CLI::App* registerCommand = app::addRegisterCommand(app, registerOptions);

  app::ConnectOptions connectOptions;
  CLI::App* connect = app::addConnectCommand(app, connectOptions);
  app::StdioOptions stdioOptions;
  CLI::App* stdioCommand = app::addStdioCommand(app, stdioOptions);

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
  if (driftAccept->parsed())
    return app::runDriftAccept(driftOptions);
  if (detect->parsed())
    return app::runDetect(detectOptions);
  if (wrap->parsed())
    return app::runWrap(wrapOptions);
  if (registerCommand->parsed())
    return app::runRegister(registerOptions);
  if (connect->parsed())
    return app::runConnect(connectOptions);
  if (stdioCommand->parsed())
    return app::runStdio(stdioOptions);
  if (auditVerify->parsed())
    return audit::runAuditVerify(auditKey, auditFiles, std::cout, std::cerr);
  return 2;
}
