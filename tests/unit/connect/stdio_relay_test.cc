#include "connect/stdio_relay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace sidecar::connect {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<size_t> oversized;
  LineSplitter::OnLine onLine() {
    return [this](std::string&& l) { lines.push_back(std::move(l)); };
  }
  LineSplitter::OnOversized onOversized() {
    return [this](size_t n) { oversized.push_back(n); };
  }
};

TEST(LineSplitter, SplitsOnNewlineInAnyChunking) {
  const std::string input = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\":3}";
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    Collected c;
    LineSplitter s;
    for (size_t i = 0; i < input.size(); i += chunk)
      s.feed(std::string_view(input).substr(i, chunk), c.onLine(), c.onOversized());
    s.finish(c.onLine(), c.onOversized());
    EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}))
        << "chunk " << chunk;
  }
}

TEST(LineSplitter, OversizedLineIsSkippedWhole) {
  Collected c;
  LineSplitter s(8);
  s.feed("short\n0123456789abc", c.onLine(), c.onOversized());
  s.feed("def\nnext\n", c.onLine(), c.onOversized());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"short", "next"}));
  EXPECT_EQ(c.oversized, std::vector<size_t>{16});
}

TEST(StdioLine, KeepsJsonAndFlattensLineBreaks) {
  std::string out;
  EXPECT_TRUE(toStdioLine("{\n  \"a\": \"x\\ny\"\r\n}", out));
  EXPECT_EQ(out, "{   \"a\": \"x\\ny\"  }");
  EXPECT_TRUE(toStdioLine("[{\"a\":1}]", out));
  EXPECT_FALSE(toStdioLine("{\"a\":", out));
  EXPECT_FALSE(toStdioLine("42", out));
  EXPECT_FALSE(toStdioLine("", out));
}

TEST(LineWriter, WritesLinesAndFailsOnceTheReaderIsGone) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  LineWriter w(fds[1]);
  EXPECT_TRUE(w.write("{\"a\":1}"));
  char buf[32] = {0};
  ASSERT_EQ(::read(fds[0], buf, sizeof buf), 8);
  EXPECT_EQ(std::string(buf, 8), "{\"a\":1}\n");
  ::close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  EXPECT_FALSE(w.write("{}"));
  EXPECT_TRUE(w.failed());
  EXPECT_FALSE(w.write("{}"));
  ::close(fds[1]);
}

TEST(StdinReader, ReadsLinesThenReportsEndOfInput) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::mutex mu;
  std::vector<std::string> lines;
  std::vector<std::string> ends;
  {
    StdinReader::Callbacks cb;
    cb.onLine = [&](std::string&& l) {
      std::lock_guard<std::mutex> g(mu);
      lines.push_back(std::move(l));
    };
    cb.onOversized = [](size_t) {};
    cb.onEnd = [&](const std::string& why) {
      std::lock_guard<std::mutex> g(mu);
      ends.push_back(why);
    };
    StdinReader reader(fds[0], -1, std::move(cb));
    std::string data = "{\"a\":1}\n{\"b\":2}";
    ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fds[1]);
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> g(mu);
        if (!ends.empty())
          break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } // joins
  ::close(fds[0]);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(ends, std::vector<std::string>{""});
}

TEST(StdinReader, StopsWhenDestroyedWhileInputIsOpen) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    StdinReader::Callbacks cb;
    cb.onLine = [](std::string&&) {};
    cb.onOversized = [](size_t) {};
    cb.onEnd = [](const std::string&) {};
    StdinReader reader(fds[0], -1, std::move(cb));
  }
  ::close(fds[0]);
  ::close(fds[1]);
  SUCCEED();
}

} // namespace
} // namespace sidecar::connect
