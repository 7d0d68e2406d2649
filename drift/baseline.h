#pragma once
// The drift baseline on disk: the tools, resources and prompts the server is expected to keep
// serving.
//
// One JSON file (docs/drift.md, "The baseline file"), mode 0600, normally
// <state-dir>/drift-baseline.json. It holds each tool's canonical form and hash, the manifest
// hash and when the baseline was learned, and the same for resources and prompts once they were
// seen (a file written before they were compared has neither section, and still loads); load()
// recomputes every hash, so a file that was cut short or edited without fixing its hashes is
// refused rather than trusted. Blocking file I/O: call from startup or from the thread that owns
// the DriftDetector (the file is a few KB).

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "drift/manifest.h"

namespace sidecar::drift {

inline constexpr std::string_view kBaselineFormat = "mcp-sidecar-drift-baseline-v1";
// The file's name inside the state directory.
inline constexpr std::string_view kBaselineFileName = "drift-baseline.json";

struct Baseline {
  ToolManifest manifest;
  // Of kind kResourceList and kPromptList. nullopt: that list was not seen yet (its baseline is
  // learned on first sight); an empty manifest is a list seen empty.
  std::optional<DefinitionManifest> resources;
  std::optional<DefinitionManifest> prompts;
  std::string learnedAt; // RFC 3339 UTC: when the tool definitions became the baseline
  std::string origin;    // "learned" (first sight) or "accepted" (drift accept)

  // The file's text: compact JSON with one line per tool (then per resource, per prompt), ending
  // with a line feed. Without resources and prompts, byte for byte what older versions wrote.
  std::string toJson() const;
  // Parses and checks a file's text: the format marker, each item's hash against its definition,
  // each manifest hash against its items. The error says what is wrong, not where the text came
  // from.
  static Result<Baseline> fromJson(std::string_view text);

  // Writes toJson() to `path` atomically: a temporary file in the same directory (mode 0600),
  // written, fsync'ed, renamed over `path`, then the directory fsync'ed. A reader sees the old
  // file or the new one, never a mixture, even across a crash. The directory must exist. On error
  // (naming the path and the failed step) `path` is untouched and the temporary file removed.
  Status save(const std::string& path) const;

  // Reads the baseline at `path`. nullopt when there is no file there (nothing learned yet). An
  // error for anything else (unreadable, not a baseline, hashes that do not match), naming the
  // file: a corrupt baseline is never replaced silently, since that would accept whatever the
  // server serves next.
  static Result<std::optional<Baseline>> load(const std::string& path);
};

} // namespace sidecar::drift
