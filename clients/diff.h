#pragma once
// A unified diff of two texts, line by line, as `diff -u` prints it: what `wrap` shows of the
// change it makes (or would make, with --dry-run).

#include <cstddef>
#include <string>
#include <string_view>

namespace sidecar::clients {

// "--- OLDNAME", "+++ NEWNAME", then hunks "@@ -l,n +l,n @@" with `context` unchanged lines
// around each change; a last line without a newline is followed by "\ No newline at end of file".
// "" when the texts are equal. The smallest edit (Myers' algorithm) between the first and the last
// differing line; past a few thousand changed lines the whole differing middle is shown as removed
// and added, which is still a correct diff.
std::string unifiedDiff(std::string_view oldText, std::string_view newText,
                        const std::string& oldName, const std::string& newName, size_t context = 3);

} // namespace sidecar::clients
