#include "clients/rewrite.h"

#include <algorithm>

#include "clients/config_file.h"
#include "clients/diff.h"
#include "clients/file_ops.h"

namespace sidecar::clients {

namespace {

std::string joinNames(const Plan& plan, ServerChange::Kind kind) {
  std::string out;
  for (const ServerChange& c : plan.servers) {
    if (c.kind != kind)
      continue;
    if (!out.empty())
      out += ", ";
    out += c.name;
    if (!c.project.empty())
      out += " (project " + c.project + ")";
  }
  return out;
}

std::string count(size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string restartHint(const Source& s) {
  if (s.client == Client::Other)
    return "restart the client to apply it";
  return "restart " + std::string(clientTitle(s.client)) + " to apply it";
}

// What a plan left alone, e.g. "2 servers already wrapped, 1 remote server".
std::string leftAlone(const Plan& plan) {
  std::string out;
  auto add = [&](size_t n, const std::string& text) {
    if (n == 0)
      return;
    if (!out.empty())
      out += ", ";
    out += text;
  };
  size_t already = plan.count(ServerChange::Kind::AlreadyWrapped);
  size_t notWrapped = plan.count(ServerChange::Kind::NotWrapped);
  size_t remote = plan.count(ServerChange::Kind::Remote);
  size_t skipped = plan.count(ServerChange::Kind::Skipped);
  size_t unnamed = plan.count(ServerChange::Kind::NotSelected);
  add(already, count(already, "server") + " already wrapped");
  add(notWrapped, count(notWrapped, "server") + " not wrapped");
  add(remote, count(remote, "remote server"));
  add(skipped, std::to_string(skipped) + (skipped == 1 ? " unusable entry" : " unusable entries"));
  add(unnamed, count(unnamed, "server") + " not named by --server");
  return out.empty() ? "no servers" : out;
}

void reportPlan(const Source& source, const Plan& plan, const char* prog, std::ostream& err,
                RewriteTally& tally) {
  for (const std::string& w : plan.warnings)
    err << prog << ": warning: " << w << "\n";
  for (const ServerChange& c : plan.servers) {
    tally.namesSeen.push_back(c.name);
    if (c.kind == ServerChange::Kind::Skipped)
      err << prog << ": " << source.path << ": server \"" << c.name << "\" left as is: " << c.note
          << "\n";
  }
}

// Replaces `path` (holding `before`, or nothing when `existed` is false) with `after`, unless it
// changed since it was read: a client writing its file at the same moment must not lose its
// write silently.
Status commit(const std::string& path, bool existed, const std::string& before,
              const std::string& after, const FileMeta& meta) {
  FileRead now = readWholeFile(path);
  const bool same = existed ? now.status == FileRead::Status::Ok && now.bytes == before
                            : now.status == FileRead::Status::Missing;
  if (!same)
    return Status::error(path +
                         " changed while mcp-sidecar was rewriting it (is the client running "
                         "and writing it?); nothing was written: quit the client and run again");
  return replaceFile(path, after, meta);
}

// The sidecar command of the first wrapped server in `file`, and the names of all of them.
std::string wrappedBy(const ConfigFile& file, const WrapOptions& o,
                      std::vector<std::string>& names) {
  std::string sidecar;
  Plan probe = planUnwrap(file, o);
  for (const ServerChange& c : probe.servers)
    if (c.kind == ServerChange::Kind::Unwrapped)
      names.push_back(c.name);
  for (const ServerRef& ref : listServers(file).servers) {
    const JsonNode* cmd = ref.node->find("command");
    if (cmd && cmd->isString() && isSidecarCommand(cmd->text, o.sidecarPath) &&
        std::find(names.begin(), names.end(), ref.name) != names.end()) {
      sidecar = cmd->text;
      break;
    }
  }
  return sidecar;
}

} // namespace

std::string backupPath(const std::string& path) {
  return resolveForWrite(path) + std::string(kBackupSuffix);
}

bool wrapSource(const Source& source, const RewriteOptions& o, bool required, const char* prog,
                std::ostream& out, std::ostream& err, RewriteTally& tally) {
  const std::string& path = source.path;
  ConfigRead read = readConfig(source);
  if (read.status == ConfigRead::Status::Missing) {
    if (!required)
      return true;
    err << prog << ": cannot read " << path
        << ": no such file (check the path given to --config)\n";
    ++tally.filesFailed;
    return false;
  }
  ++tally.filesFound;
  if (read.status == ConfigRead::Status::Failed) {
    err << prog << ": " << read.error << "; the file was not changed\n";
    ++tally.filesFailed;
    return false;
  }
  const ConfigFile& file = read.file;
  Plan plan = planWrap(file, o.wrap);
  reportPlan(source, plan, prog, err, tally);
  if (!plan.changed) {
    // A file found by looking (VS Code's settings.json, say) without servers is not news.
    if (required || !plan.servers.empty())
      err << prog << ": " << path << ": nothing to change (" << leftAlone(plan) << ")\n";
    return true;
  }
  out << unifiedDiff(file.text, plan.text, path, path);
  const size_t wrapped = plan.count(ServerChange::Kind::Wrapped);
  const std::string names = joinNames(plan, ServerChange::Kind::Wrapped);
  if (o.dryRun) {
    err << prog << ": " << path << ": would wrap " << count(wrapped, "server") << " (" << names
        << "); dry run: nothing written\n";
    return true;
  }

  const std::string real = resolveForWrite(path);
  const std::string bak = real + std::string(kBackupSuffix);
  bool backupExisted = false;
  if (Status s = createFileExclusive(bak, file.text, file.meta, backupExisted); !s.ok()) {
    err << prog << ": cannot back up " << path << ": " << s.message()
        << "; the file was not changed\n";
    ++tally.filesFailed;
    return false;
  }
  if (Status s = commit(real, true, file.text, plan.text, file.meta); !s.ok()) {
    if (!backupExisted)
      (void)removeFile(bak);
    err << prog << ": " << s.message() << "\n";
    ++tally.filesFailed;
    return false;
  }
  ++tally.filesChanged;
  tally.serversChanged += wrapped;
  err << prog << ": " << path << ": wrapped " << count(wrapped, "server") << " (" << names << "); ";
  if (backupExisted)
    err << "the original from before the first wrap stays in " << bak;
  else
    err << "original saved as " << bak;
  err << "; " << restartHint(source) << "\n";
  return true;
}

bool undoSource(const Source& source, const RewriteOptions& o, bool required, const char* prog,
                std::ostream& out, std::ostream& err, RewriteTally& tally) {
  const std::string& path = source.path;
  const std::string real = resolveForWrite(path);
  const std::string bak = real + std::string(kBackupSuffix);
  auto fail = [&](const std::string& message) {
    err << prog << ": " << message << "\n";
    ++tally.filesFailed;
    return false;
  };

  FileRead cur = readWholeFile(real);
  if (cur.status == FileRead::Status::Failed) {
    ++tally.filesFound;
    return fail(cur.error + "; nothing was undone");
  }
  FileRead backup = readWholeFile(bak);
  if (backup.status == FileRead::Status::Failed)
    return fail(backup.error + "; nothing was undone (fix its permissions and run again)");
  const bool curExists = cur.status == FileRead::Status::Ok;
  const bool haveBackup = backup.status == FileRead::Status::Ok;
  tally.backupsFound += haveBackup ? 1 : 0;

  if (!curExists && !haveBackup) {
    if (!required)
      return true;
    return fail("cannot read " + path + ": no such file (check the path given to --config)");
  }
  ++tally.filesFound;

  std::optional<ConfigRead> current;
  if (curExists)
    current = parseConfig(source, cur.bytes, cur.meta);

  // Only some servers named: those are unwrapped in place, the backup (of all) is kept.
  const bool someServers = !o.wrap.servers.empty();
  if (haveBackup && (!someServers || o.force)) {
    bool restore = o.force || !curExists;
    if (!restore && current->status == ConfigRead::Status::Ok) {
      // Unchanged since the wrap when wrapping the backup again gives the file byte for byte.
      ConfigRead original = parseConfig(source, backup.bytes, backup.meta);
      if (original.status == ConfigRead::Status::Ok) {
        WrapOptions again = o.wrap;
        again.servers.clear();
        std::string sidecar = wrappedBy(current->file, again, again.servers);
        if (!sidecar.empty() && !again.servers.empty()) {
          again.sidecarPath = sidecar;
          restore = planWrap(original.file, again).text == cur.bytes;
        }
      }
    }
    if (restore) {
      out << unifiedDiff(cur.bytes, backup.bytes, path, path);
      if (o.dryRun) {
        err << prog << ": " << path << ": would restore " << bak
            << " byte for byte; dry run: nothing written\n";
        return true;
      }
      if (Status s = commit(real, curExists, cur.bytes, backup.bytes, backup.meta); !s.ok())
        return fail(s.message());
      if (Status s = removeFile(bak); !s.ok())
        return fail(path + " was restored, but " + s.message() + "; delete it by hand");
      ++tally.filesChanged;
      err << prog << ": " << path << ": restored byte for byte from " << bak << " (removed); "
          << restartHint(source) << "\n";
      return true;
    }
  }

  // Unwrap in place: no backup, or the file changed since it was wrapped.
  if (!current) // only with --server: the backup is of every server
    return fail(path +
                " is gone: nothing to unwrap; `mcp-sidecar wrap --undo` without --server "
                "puts back " +
                bak);
  if (current->status != ConfigRead::Status::Ok) {
    std::string message = current->error + "; cannot unwrap it in place";
    if (haveBackup)
      message += ": fix it, or run `mcp-sidecar wrap --undo --force` to put back " + bak +
                 " (losing what changed in the file since the wrap)";
    return fail(message);
  }
  Plan plan = planUnwrap(current->file, o.wrap);
  reportPlan(source, plan, prog, err, tally);
  if (!plan.changed) {
    if (haveBackup && someServers)
      err << prog << ": " << path << ": none of the named servers is wrapped\n";
    else if (haveBackup)
      err << prog << ": " << path << ": no wrapped servers; " << bak
          << " (from an earlier wrap) was not restored because the file changed since: "
             "`mcp-sidecar wrap --undo --force` restores it, or delete it\n";
    else if (required)
      err << prog << ": " << path << ": nothing to undo (no wrapped servers, no backup)\n";
    return true;
  }
  out << unifiedDiff(cur.bytes, plan.text, path, path);
  const size_t unwrapped = plan.count(ServerChange::Kind::Unwrapped);
  const std::string names = joinNames(plan, ServerChange::Kind::Unwrapped);
  if (o.dryRun) {
    err << prog << ": " << path << ": would unwrap " << count(unwrapped, "server") << " (" << names
        << ") in place; dry run: nothing written\n";
    return true;
  }
  if (Status s = commit(real, true, cur.bytes, plan.text, cur.meta); !s.ok())
    return fail(s.message());
  ++tally.filesChanged;
  tally.serversChanged += unwrapped;
  err << prog << ": " << path << ": unwrapped " << count(unwrapped, "server") << " (" << names
      << ") in place";
  if (haveBackup && someServers)
    err << "; the backup " << bak << " (of every server) is kept";
  else if (haveBackup)
    err << " instead of restoring " << bak
        << ", because the file changed since the wrap and restoring would lose those changes; "
           "the backup is kept (`mcp-sidecar wrap --undo --force` restores it; delete it when "
           "no longer needed)";
  else
    err << " (no backup at " << bak << ")";
  err << "; " << restartHint(source) << "\n";
  return true;
}

} // namespace sidecar::clients
