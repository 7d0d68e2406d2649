#include "tests/support/fake_aim/fake_aim_process.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/wait.h>

#include <cstdlib>
#include <regex>

#include "tests/support/http_client.h"

namespace sidecar::test {

namespace {

std::string jsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string str(const rapidjson::Value& obj, const char* name) {
  if (obj.IsObject() && obj.HasMember(name) && obj[name].IsString())
    return std::string(obj[name].GetString(), obj[name].GetStringLength());
  return {};
}

rapidjson::Document parseAnswer(const Response& r, const std::string& what) {
  rapidjson::Document doc;
  if (r.status < 200 || r.status > 299) {
    ADD_FAILURE() << "fake AIM control " << what << " answered " << r.status << " " << r.error
                  << "\n"
                  << r.summary();
    doc.SetObject();
    return doc;
  }
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError()) {
    ADD_FAILURE() << "fake AIM control " << what << " answered no JSON: " << r.body;
    doc.SetObject();
  }
  return doc;
}

} // namespace

std::string FakeAimRequest::header(const std::string& lowerName) const {
  for (const auto& [n, v] : headers)
    if (n == lowerName)
      return v;
  return {};
}

bool FakeAimRequest::hasHeader(const std::string& lowerName) const {
  for (const auto& [n, v] : headers)
    if (n == lowerName)
      return true;
  return false;
}

std::string FakeAim::scriptPath() {
  return std::string(SIDECAR_SOURCE_DIR) + "/tests/support/fake_aim/fake_aim.mjs";
}

FakeAimPtr FakeAim::start(const FakeAimOptions& options) {
  const char* node = std::getenv("MCP_SIDECAR_NODE");
  std::vector<std::string> argv = {node != nullptr && *node != '\0' ? node : "node", scriptPath(),
                                   "--port", std::to_string(options.port)};
  for (const std::string& key : options.apiKeys) {
    argv.push_back("--api-key");
    argv.push_back(key);
  }
  bool tls = !options.tlsCert.empty();
  if (tls) {
    argv.insert(argv.end(), {"--tls-cert", options.tlsCert, "--tls-key", options.tlsKey});
  }
  FakeAimPtr fake(new FakeAim());
  fake->tls_ = tls;
  fake->proc_ = Process::spawn(argv);
  if (!fake->proc_)
    return nullptr;
  static const std::regex kListening("listening aim=([0-9]+) control=([0-9]+) scheme=(https?)");
  auto m = fake->proc_->waitForOutput(kListening, Stream::Stdout, scaled(std::chrono::seconds(10)));
  if (!m) {
    ADD_FAILURE() << "the fake AIM did not start\n" << fake->proc_->dumpText();
    fake->proc_->markDumped();
    return nullptr;
  }
  fake->port_ = static_cast<uint16_t>(std::stoi(m->groups[1]));
  fake->controlPort_ = static_cast<uint16_t>(std::stoi(m->groups[2]));
  return fake;
}

std::string FakeAim::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

rapidjson::Document FakeAim::get(const std::string& path) {
  return parseAnswer(request(controlPort_, "GET", path), "GET " + path);
}

rapidjson::Document FakeAim::post(const std::string& path, const std::string& jsonBody) {
  return parseAnswer(
      request(controlPort_, "POST", path, {{"Content-Type", "application/json"}}, jsonBody),
      "POST " + path);
}

std::vector<FakeAimRequest> FakeAim::requests() {
  std::vector<FakeAimRequest> out;
  rapidjson::Document doc = get("/__fake/requests");
  if (!doc.IsObject() || !doc.HasMember("requests") || !doc["requests"].IsArray())
    return out;
  const auto& list = doc["requests"];
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const auto& r = list[i];
    FakeAimRequest q;
    q.seq = r["seq"].GetUint64();
    q.time = str(r, "time");
    q.method = str(r, "method");
    q.target = str(r, "target");
    q.route = str(r, "route");
    q.status = r["status"].GetInt();
    q.verdict = str(r, "verdict");
    q.reason = str(r, "reason");
    q.body = str(r, "body");
    const auto& h = r["headers"];
    for (rapidjson::SizeType j = 0; j < h.MemberCount(); ++j) {
      auto it = h.MemberBegin() + j;
      q.headers.emplace_back(it->name.GetString(),
                             it->value.IsString() ? it->value.GetString() : jsonText(it->value));
    }
    out.push_back(std::move(q));
  }
  return out;
}

void FakeAim::expectAllVerdictsOk() {
  for (const FakeAimRequest& r : requests())
    EXPECT_EQ(r.verdict, "ok") << "the fake AIM refused request #" << r.seq << " " << r.method
                               << " " << r.target << " (" << r.route << "): " << r.reason
                               << "\nbody: " << r.body;
}

bool makeTestCa(const std::string& dir) {
  std::string script = std::string(SIDECAR_SOURCE_DIR) + "/tests/support/fake_aim/make-test-ca.sh";
  ProcessPtr p = Process::spawn({"bash", script, dir});
  if (!p)
    return false;
  auto status = p->waitExit(scaled(std::chrono::seconds(30)));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    ADD_FAILURE() << "make-test-ca.sh failed\n" << p->dumpText();
    p->markDumped();
    return false;
  }
  return true;
}

} // namespace sidecar::test
