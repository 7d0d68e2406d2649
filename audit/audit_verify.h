#pragma once
// `mcp-sidecar audit verify --key PUBKEY FILE...`: checks an audit trail's chain across its files
// and every checkpoint signature against the public key given (never a key found in the trail),
// and names the first broken record (docs/audit.md, "Verifying").

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "verifier/keys.h"

namespace sidecar::audit {

struct VerifyOptions {
  // Accept a trail that does not start at seq 1 (its oldest files were pruned on purpose); the
  // chain is then checked from the first record given, with a warning.
  bool allowMissingHead = false;
};

struct VerifyReport {
  bool intact = false;
  // The first broken record, when !intact: where, and what is wrong with it.
  std::string file;
  uint64_t line = 0; // 1-based
  std::optional<uint64_t> seq;
  std::string problem;

  uint64_t files = 0;   // files holding records, in trail order
  uint64_t records = 0; // records checked (before the broken one, when broken)
  uint64_t firstSeq = 0;
  uint64_t lastSeq = 0;
  uint64_t checkpoints = 0;   // checkpoints whose signature verified
  uint64_t unsealed = 0;      // records after the last checkpoint
  bool cleanShutdown = false; // the trail ends with a stop record and its final checkpoint
  std::vector<std::string> warnings;
};

// Checks the trail made of `files` (any order: they are put in order by the seq of their first
// record). Reads the files; an error only when one cannot be opened or read. A trail that is not
// intact is a report with intact == false, not an error.
Result<VerifyReport> verifyTrail(const verifier::PublicKey& key,
                                 const std::vector<std::string>& files,
                                 const VerifyOptions& options = {});

// The subcommand: `publicKey` in any public-key form of the signing contract (§1). Writes the
// verdict, then any warnings, to `out` ("intact: …", "broken: FILE:LINE (seq N): …",
// "warning: …"), and usage or I/O errors to `err`. Returns the exit status: 0 intact (an unsealed
// tail is only a warning), 1 broken, 2 when the trail could not be checked (an unusable key, no
// files, a file that cannot be read).
int runAuditVerify(const std::string& publicKey, const std::vector<std::string>& files,
                   std::ostream& out, std::ostream& err);

} // namespace sidecar::audit
