#include "clients/diff.h"

#include <algorithm>
#include <vector>

namespace sidecar::clients {

namespace {

// Beyond this many differing lines the middle is not minimised (the trace grows as its square).
constexpr long kMaxEdits = 2000;

using Lines = std::vector<std::string_view>;

Lines splitLines(std::string_view text) {
  Lines out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    size_t len = nl == std::string_view::npos ? text.size() : nl + 1;
    out.push_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return out;
}

enum class Op : char { Equal, Delete, Insert };

// The shortest edit script turning a into b (Myers 1986, "An O(ND) difference algorithm"): the
// furthest-reaching path on each diagonal k = x - y for d = 0, 1, ... edits, then walked back.
// Returns false when more than kMaxEdits edits are needed.
bool myers(const Lines& a, const Lines& b, std::vector<Op>& ops) {
  const long n = static_cast<long>(a.size()), m = static_cast<long>(b.size());
  const long max = std::min(n + m, kMaxEdits);
  std::vector<long> v(2 * static_cast<size_t>(max) + 3, 0);
  const long off = max + 1;
  std::vector<std::vector<long>> trace; // trace[d][k + d]: v[k] after d edits
  long found = -1;
  for (long d = 0; d <= max && found < 0; ++d) {
    for (long k = -d; k <= d; k += 2) {
      long x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                        : v[off + k - 1] + 1;
      long y = x - k;
      while (x < n && y < m && a[x] == b[y]) {
        ++x;
        ++y;
      }
      v[off + k] = x;
      if (x >= n && y >= m)
        found = d;
    }
    trace.emplace_back(v.begin() + (off - d), v.begin() + (off + d + 1));
  }
  if (found < 0)
    return false;
  std::vector<Op> rev;
  long x = n, y = m;
  for (long d = found; d > 0; --d) {
    const std::vector<long>& prev = trace[d - 1]; // prev[k + d - 1] = v[k] after d - 1 edits
    auto at = [&](long k) { return prev[k + d - 1]; };
    long k = x - y;
    long prevK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    long prevX = at(prevK), prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      rev.push_back(Op::Equal);
      --x;
      --y;
    }
    rev.push_back(prevK == k + 1 ? Op::Insert : Op::Delete);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    rev.push_back(Op::Equal);
    --x;
    --y;
  }
  ops.insert(ops.end(), rev.rbegin(), rev.rend());
  return true;
}

std::string range(size_t start, size_t count) {
  // diff -u: an empty range names the line before it; a range of one line has no count.
  if (count == 0)
    return std::to_string(start) + ",0";
  if (count == 1)
    return std::to_string(start + 1);
  return std::to_string(start + 1) + "," + std::to_string(count);
}

void appendLine(std::string& out, char mark, std::string_view line) {
  out += mark;
  out.append(line);
  if (line.empty() || line.back() != '\n')
    out += "\n\\ No newline at end of file\n";
}

} // namespace

std::string unifiedDiff(std::string_view oldText, std::string_view newText,
                        const std::string& oldName, const std::string& newName, size_t context) {
  if (oldText == newText)
    return {};
  const Lines a = splitLines(oldText), b = splitLines(newText);
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix])
    ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix])
    ++suffix;

  std::vector<Op> ops(prefix, Op::Equal);
  const Lines midA(a.begin() + prefix, a.end() - suffix);
  const Lines midB(b.begin() + prefix, b.end() - suffix);
  if (!myers(midA, midB, ops)) {
    ops.insert(ops.end(), midA.size(), Op::Delete);
    ops.insert(ops.end(), midB.size(), Op::Insert);
  }
  ops.insert(ops.end(), suffix, Op::Equal);

  // The line indexes in a and b before each op.
  std::vector<size_t> ai(ops.size() + 1), bi(ops.size() + 1);
  for (size_t i = 0; i < ops.size(); ++i) {
    ai[i + 1] = ai[i] + (ops[i] != Op::Insert ? 1 : 0);
    bi[i + 1] = bi[i] + (ops[i] != Op::Delete ? 1 : 0);
  }

  std::string out = "--- " + oldName + "\n+++ " + newName + "\n";
  size_t i = 0;
  while (i < ops.size()) {
    while (i < ops.size() && ops[i] == Op::Equal)
      ++i;
    if (i == ops.size())
      break;
    // A hunk: from `context` lines before this change to `context` lines after the last change
    // that is at most 2 * context unchanged lines from the previous one.
    size_t start = i >= context ? i - context : 0;
    size_t end = i;
    for (;;) {
      while (end < ops.size() && ops[end] != Op::Equal)
        ++end;
      size_t next = end;
      while (next < ops.size() && ops[next] == Op::Equal)
        ++next;
      if (next == ops.size() || next - end > 2 * context) {
        end = std::min(end + context, ops.size());
        break;
      }
      end = next;
    }
    out += "@@ -" + range(ai[start], ai[end] - ai[start]) + " +" +
           range(bi[start], bi[end] - bi[start]) + " @@\n";
    for (size_t j = start; j < end; ++j) {
      switch (ops[j]) {
      case Op::Equal:
        appendLine(out, ' ', a[ai[j]]);
        break;
      case Op::Delete:
        appendLine(out, '-', a[ai[j]]);
        break;
      case Op::Insert:
        appendLine(out, '+', b[bi[j]]);
        break;
      }
    }
    i = end;
  }
  return out;
}

} // namespace sidecar::clients
