// The unified diff: diff -u's layout, and on random inputs a minimal edit script that really
// turns one text into the other.

#include "clients/diff.h"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

namespace sidecar::clients {
namespace {

TEST(DiffTest, EqualTextsGiveNothing) {
  EXPECT_EQ(unifiedDiff("a\nb\n", "a\nb\n", "x", "x"), "");
  EXPECT_EQ(unifiedDiff("", "", "x", "x"), "");
}

TEST(DiffTest, OneChangeWithContext) {
  std::string a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  std::string b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(unifiedDiff(a, b, "old", "new"), "--- old\n+++ new\n"
                                             "@@ -2,7 +2,7 @@\n"
                                             " 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(DiffTest, SeparateHunksAndMergedHunks) {
  std::string a, b;
  for (int i = 1; i <= 20; ++i) {
    a += std::to_string(i) + "\n";
    b += (i == 2 || i == 18 ? "x" : std::to_string(i)) + "\n";
  }
  EXPECT_EQ(unifiedDiff(a, b, "f", "f"), "--- f\n+++ f\n"
                                         "@@ -1,5 +1,5 @@\n 1\n-2\n+x\n 3\n 4\n 5\n"
                                         "@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+x\n 19\n 20\n");
  // Changes 6 lines apart share one hunk (context 3 on each side touches).
  std::string c;
  for (int i = 1; i <= 20; ++i)
    c += (i == 5 || i == 12 ? "x" : std::to_string(i)) + "\n";
  std::string d = unifiedDiff(a, c, "f", "f");
  EXPECT_EQ(d.find("@@ -"), d.rfind("@@ -")) << d;
  EXPECT_NE(d.find("@@ -2,14 +2,14 @@\n"), std::string::npos) << d;
}

TEST(DiffTest, InsertionsDeletionsAndEmptyRanges) {
  EXPECT_EQ(unifiedDiff("", "a\n", "f", "f"), "--- f\n+++ f\n@@ -0,0 +1 @@\n+a\n");
  EXPECT_EQ(unifiedDiff("a\n", "", "f", "f"), "--- f\n+++ f\n@@ -1 +0,0 @@\n-a\n");
  EXPECT_EQ(unifiedDiff("a\nb\n", "a\nx\ny\nb\n", "f", "f"),
            "--- f\n+++ f\n@@ -1,2 +1,4 @@\n a\n+x\n+y\n b\n");
}

TEST(DiffTest, NoNewlineAtEnd) {
  EXPECT_EQ(unifiedDiff("a\nb", "a\nc", "f", "f"), "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n"
                                                   "\\ No newline at end of file\n+c\n"
                                                   "\\ No newline at end of file\n");
  EXPECT_EQ(unifiedDiff("a\n", "a", "f", "f"),
            "--- f\n+++ f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
}

// Applies a unified diff to `a` (hunks in order, context checked) and returns the result.
std::string applyDiff(const std::string& a, const std::string& diff) {
  std::vector<std::string> lines;
  std::stringstream in(a);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  std::vector<std::string> out;
  size_t at = 0;
  std::stringstream d(diff);
  std::string l;
  std::getline(d, l); // ---
  std::getline(d, l); // +++
  while (std::getline(d, l)) {
    if (l.rfind("@@ -", 0) == 0) {
      size_t start = std::stoul(l.substr(4));
      size_t comma = l.find(',');
      size_t space = l.find(' ', 4);
      size_t count = comma < space ? std::stoul(l.substr(comma + 1)) : 1;
      size_t first = count == 0 ? start : start - 1;
      while (at < first)
        out.push_back(lines[at++]);
      continue;
    }
    if (l.empty())
      continue;
    std::string text = l.substr(1);
    if (l[0] == ' ') {
      EXPECT_EQ(lines.at(at), text);
      out.push_back(lines[at++]);
    } else if (l[0] == '-') {
      EXPECT_EQ(lines.at(at), text);
      ++at;
    } else if (l[0] == '+') {
      out.push_back(text);
    }
  }
  while (at < lines.size())
    out.push_back(lines[at++]);
  std::string r;
  for (const std::string& s : out)
    r += s + "\n";
  return r;
}

size_t lcs(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::vector<size_t>> t(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
  return t[a.size()][b.size()];
}

TEST(DiffTest, RandomTextsAreMinimalAndApply) {
  std::mt19937 rng(8);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> a, b;
    size_t na = rng() % 15, nb = rng() % 15;
    for (size_t i = 0; i < na; ++i)
      a.push_back(std::string(1, static_cast<char>('a' + rng() % 4)));
    for (size_t i = 0; i < nb; ++i)
      b.push_back(std::string(1, static_cast<char>('a' + rng() % 4)));
    std::string ta, tb;
    for (const std::string& s : a)
      ta += s + "\n";
    for (const std::string& s : b)
      tb += s + "\n";
    std::string d = unifiedDiff(ta, tb, "a", "b", rng() % 4);
    if (ta == tb) {
      EXPECT_EQ(d, "");
      continue;
    }
    EXPECT_EQ(applyDiff(ta, d), tb) << ta << "\n---\n" << tb << "\n---\n" << d;
    // Minimal: as many removed lines as a has beyond the longest common subsequence.
    size_t removed = 0;
    std::stringstream ds(d);
    for (std::string l; std::getline(ds, l);)
      removed += l.rfind("-", 0) == 0 && l.rfind("---", 0) != 0 ? 1 : 0;
    EXPECT_EQ(removed, a.size() - lcs(a, b)) << ta << "\n---\n" << tb << "\n---\n" << d;
  }
}

TEST(DiffTest, LargeDifferencesStillApply) {
  std::string a, b;
  for (int i = 0; i < 6000; ++i) {
    a += 'a' + std::to_string(i) + '\n';
    b += 'b' + std::to_string(i) + '\n';
  }
  std::string d = unifiedDiff("head\n" + a + "tail\n", "head\n" + b + "tail\n", "f", "f");
  EXPECT_EQ(applyDiff("head\n" + a + "tail\n", d), "head\n" + b + "tail\n");
}

} // namespace
} // namespace sidecar::clients
