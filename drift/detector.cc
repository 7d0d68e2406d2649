#include "drift/detector.h"

#include "common/clock.h"
#include "common/log.h"

namespace sidecar::drift {

const char* policyName(DriftPolicy policy) {
  return policy == DriftPolicy::Block ? "block" : "alert";
}

Result<DriftPolicy> parseDriftPolicy(std::string_view text) {
  if (text == "alert")
    return DriftPolicy::Alert;
  if (text == "block")
    return DriftPolicy::Block;
  return Status::error("--drift-policy: " + jsonString(text) +
                       " is not a drift policy; use \"alert\" or \"block\"");
}

std::string DriftState::toJson() const {
  auto textOrNull = [](const std::string& text, std::string& out) {
    if (text.empty())
      out += "null";
    else
      appendJsonString(text, out);
  };
  std::string out = "{\"policy\":";
  appendJsonString(policyName(policy), out);
  out += ",\"baseline\":";
  textOrNull(baselineHash, out);
  out += ",\"baseline_learned_at\":";
  textOrNull(baselineLearnedAt, out);
  out += ",\"pinned\":";
  out += pinned ? "true" : "false";
  out += ",\"detailed\":";
  out += detailed ? "true" : "false";
  out += ",\"current\":";
  textOrNull(currentHash, out);
  out += ",\"unreadable\":";
  textOrNull(unreadable, out);
  out += ",\"drifted\":";
  out += drifted ? "true" : "false";
  out += ",\"pending_tools\":[";
  for (size_t i = 0; i < pendingTools.size(); ++i) {
    if (i)
      out += ',';
    appendJsonString(pendingTools[i], out);
  }
  out += "],\"pending_all\":";
  out += pendingAll ? "true" : "false";
  out += ",\"persist_error\":";
  textOrNull(persistError, out);
  for (const auto& [name, list] :
       {std::pair<const char*, const ListStatus*>{"resources", &resources},
        {"prompts", &prompts}}) {
    out += ",\"";
    out += name;
    out += "\":{\"baseline\":";
    textOrNull(list->baselineHash, out);
    out += ",\"current\":";
    textOrNull(list->currentHash, out);
    out += ",\"unreadable\":";
    textOrNull(list->unreadable, out);
    out += ",\"drifted\":";
    out += list->drifted ? "true" : "false";
    out += '}';
  }
  out += ",\"last_report\":";
  out += lastReport ? lastReport->toJson() : "null";
  out += '}';
  return out;
}

ListDrift DriftDetector::ListState::drift() const {
  ListDrift d;
  if (baseline)
    d.baselineHash = baseline->hash();
  if (!unreadable.empty()) {
    d.unreadable = unreadable;
    return d;
  }
  if (current) {
    d.currentHash = current->hash();
    if (baseline && baseline->hash() != current->hash())
      d = compareList(*baseline, *current);
  }
  return d;
}

DriftDetector::DriftDetector(DriftOptions options) : options_(std::move(options)) {
  if (!options_.now)
    options_.now = [] { return rfc3339Now(); };
}

Result<DriftDetectorPtr> DriftDetector::create(DriftOptions options) {
  std::string pin;
  if (!options.pinnedHash.empty()) {
    Result<std::string> parsed = parseManifestHash(options.pinnedHash);
    if (!parsed.ok())
      return Status::error("--drift-baseline: " + parsed.error());
    pin = *parsed;
  }
  std::optional<Baseline> stored;
  if (!options.baselinePath.empty()) {
    Result<std::optional<Baseline>> loaded = Baseline::load(options.baselinePath);
    if (!loaded.ok())
      return loaded.status();
    stored = std::move(*loaded);
  }
  DriftDetectorPtr d(new DriftDetector(std::move(options)));
  d->pin_ = pin;
  // With a pin, a stored baseline counts only when it is the pinned manifest: the pin is what the
  // operator vouched for. Another stored baseline is overwritten once the pin is confirmed.
  if (stored && (pin.empty() || stored->manifest.hash() == pin)) {
    d->resources_.baseline = stored->resources;
    d->prompts_.baseline = stored->prompts;
    d->baseline_ = std::move(stored);
  }
  return d;
}

std::string DriftDetector::expectedHash() const {
  if (!pin_.empty())
    return pin_;
  return baseline_ ? baseline_->manifest.hash() : std::string();
}

void DriftDetector::persist(const Baseline& b) {
  persistError_.clear();
  if (options_.baselinePath.empty())
    return;
  Status saved = b.save(options_.baselinePath);
  if (!saved.ok()) {
    persistError_ = saved.message();
    log::write(log::Level::Warn, "drift baseline not saved; it holds until restart",
               {{"error", persistError_}});
  }
}

void DriftDetector::learn(const ToolManifest& manifest) {
  Baseline b;
  b.manifest = manifest;
  b.resources = resources_.baseline;
  b.prompts = prompts_.baseline;
  b.learnedAt = options_.now();
  b.origin = "learned";
  persist(b);
  baseline_ = std::move(b);
}

void DriftDetector::clearDrift() {
  drifted_ = false;
  pending_.clear();
  pendingAll_ = false;
  lastReportedKey_.clear();
  toolReport_.reset();
}

DriftReport DriftDetector::fullReport() const {
  DriftReport r;
  if (toolReport_) {
    r = *toolReport_;
  } else {
    r.baselineHash = expectedHash();
    if (current_)
      r.currentHash = current_->hash();
  }
  r.resources = resources_.drift();
  r.prompts = prompts_.drift();
  return r;
}

std::optional<DriftReport> DriftDetector::record(DriftReport report, std::string key) {
  drifted_ = true;
  pending_.clear();
  pendingAll_ = !report.detailed || !report.unreadable.empty();
  for (const ToolChange& c : report.changes)
    if (c.kind != ChangeKind::Removed)
      pending_.insert(c.tool);
  toolReport_ = std::move(report);
  if (key == lastReportedKey_)
    return std::nullopt;
  lastReportedKey_ = std::move(key);
  lastReport_ = fullReport();
  return lastReport_;
}

std::optional<DriftReport> DriftDetector::recordList(ListState& list, std::string key) {
  if (key == list.lastReportedKey)
    return std::nullopt;
  list.lastReportedKey = std::move(key);
  lastReport_ = fullReport();
  return lastReport_;
}

DriftDetector::ListState* DriftDetector::listState(const ListKind& kind) {
  if (kind.method == kResourceList.method)
    return &resources_;
  if (kind.method == kPromptList.method)
    return &prompts_;
  return nullptr;
}

std::optional<DriftReport> DriftDetector::observe(const ToolManifest& current) {
  if (!current.complete())
    return std::nullopt;
  unreadable_.clear();
  current_ = current;
  std::string expected = expectedHash();
  if (expected.empty()) { // first sight, nothing pinned
    learn(current);
    clearDrift();
    return std::nullopt;
  }
  if (current.hash() == expected) {
    // A pin confirmed for the first time: keep its details for later reports.
    if (!baseline_ || baseline_->manifest.hash() != expected)
      learn(current);
    clearDrift();
    return std::nullopt;
  }
  DriftReport report =
      baseline_ ? compare(baseline_->manifest, current) : comparePinned(expected, current);
  return record(std::move(report), current.hash());
}

std::optional<DriftReport> DriftDetector::observeUnreadable(std::string_view reason) {
  current_.reset();
  unreadable_ = reason;
  DriftReport report;
  report.baselineHash = expectedHash();
  report.detailed = false;
  report.unreadable = unreadable_;
  return record(std::move(report), "!" + unreadable_);
}

std::optional<DriftReport> DriftDetector::observeList(const DefinitionManifest& current) {
  ListState* list = listState(current.kind());
  if (!list || !current.complete())
    return std::nullopt;
  list->unreadable.clear();
  list->current = current;
  if (!list->baseline) {
    // First sight (or a baseline file from before this list was compared): pin it. Saved now
    // when the tools' baseline is known, else with it when it is learned.
    list->baseline = current;
    list->lastReportedKey.clear();
    if (baseline_) {
      Baseline b = *baseline_;
      b.resources = resources_.baseline;
      b.prompts = prompts_.baseline;
      persist(b);
      baseline_ = std::move(b);
    }
    return std::nullopt;
  }
  if (current.hash() == list->baseline->hash()) {
    list->lastReportedKey.clear();
    return std::nullopt;
  }
  return recordList(*list, current.hash());
}

std::optional<DriftReport> DriftDetector::observeUnreadable(const ListKind& kind,
                                                            std::string_view reason) {
  ListState* list = listState(kind);
  if (!list)
    return observeUnreadable(reason);
  list->current.reset();
  list->unreadable = reason;
  return recordList(*list, "!" + list->unreadable);
}

Status DriftDetector::accept() {
  if (!unreadable_.empty())
    return Status::error("the server's last tools/list could not be read (" + unreadable_ +
                         "): there are no definitions to accept");
  if (!current_)
    return Status::error("no complete tools/list has been seen yet: there are no definitions to "
                         "accept");
  Baseline b;
  b.manifest = *current_;
  // A list seen and read is accepted; one never seen, or unreadable now, keeps its baseline.
  b.resources = resources_.current ? resources_.current : resources_.baseline;
  b.prompts = prompts_.current ? prompts_.current : prompts_.baseline;
  b.learnedAt = options_.now();
  b.origin = "accepted";
  if (!options_.baselinePath.empty()) {
    Status saved = b.save(options_.baselinePath);
    if (!saved.ok())
      return Status::error("drift accept: " + saved.message());
  }
  persistError_.clear();
  for (ListState* list : {&resources_, &prompts_}) {
    if (!list->current)
      continue;
    list->baseline = list->current;
    list->lastReportedKey.clear();
  }
  baseline_ = std::move(b);
  pin_.clear();
  clearDrift();
  return Status();
}

bool DriftDetector::blocks(std::string_view tool) const {
  if (options_.policy != DriftPolicy::Block || !drifted_)
    return false;
  return pendingAll_ || pending_.find(tool) != pending_.end();
}

DriftState DriftDetector::state() const {
  DriftState s;
  s.policy = options_.policy;
  s.baselineHash = expectedHash();
  s.pinned = !pin_.empty();
  s.detailed = baseline_.has_value();
  if (baseline_)
    s.baselineLearnedAt = baseline_->learnedAt;
  if (current_)
    s.currentHash = current_->hash();
  s.unreadable = unreadable_;
  s.drifted = drifted_;
  s.pendingTools.assign(pending_.begin(), pending_.end());
  s.pendingAll = pendingAll_;
  s.persistError = persistError_;
  s.lastReport = lastReport_;
  for (const auto& [list, out] :
       {std::pair<const ListState*, ListStatus*>{&resources_, &s.resources},
        {&prompts_, &s.prompts}}) {
    ListDrift d = list->drift();
    out->baselineHash = d.baselineHash;
    out->currentHash = d.currentHash;
    out->unreadable = d.unreadable;
    out->drifted = d.drifted();
    s.drifted = s.drifted || out->drifted;
  }
  return s;
}

} // namespace sidecar::drift
