#include "discovery/http_lister.h"

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_text.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"

namespace sidecar::discovery {

namespace {

struct Answer {
  long status = 0;
  std::string contentType;
  std::string sessionId;
  std::string body;
};

size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Answer*>(user);
  std::string_view line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name)
      c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    if (name == "content-type")
      a->contentType = value;
    else if (name == "mcp-session-id")
      a->sessionId = value;
  }
  return size * n;
}

class Session {
public:
  explicit Session(const ListerOptions& o) : o_(o), curl_(curl_easy_init()) {}
  ~Session() {
    if (!sessionId_.empty()) {
      Answer ignored;
      (void)request("DELETE", "", ignored); // ends the session; a server may not support it
    }
    curl_easy_cleanup(curl_);
  }

  // A JSON-RPC request; its answer's message with the same id (JSON body or SSE events).
  Result<std::string> call(std::string_view method, std::string_view params, int id) {
    std::string body = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"" +
                       std::string(method) + "\"" +
                       (params.empty() ? "" : ",\"params\":" + std::string(params)) + "}";
    Answer a;
    if (Status st = request("POST", body, a); !st.ok())
      return st;
    if (a.status != 200)
      return Status::error(std::string(method) + ": HTTP " + std::to_string(a.status) + " " +
                           a.body.substr(0, 300));
    if (!a.sessionId.empty())
      sessionId_ = a.sessionId;
    if (a.contentType.find("text/event-stream") == std::string::npos)
      return a.body;
    // SSE: the event whose data is the answer to `id` (others are notifications or requests).
    size_t pos = 0;
    std::string data;
    while (pos <= a.body.size()) {
      size_t eol = a.body.find('\n', pos);
      std::string_view line(a.body.data() + pos,
                            (eol == std::string::npos ? a.body.size() : eol) - pos);
      if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
      if (line.starts_with("data:")) {
        std::string_view v = line.substr(5);
        if (!v.empty() && v.front() == ' ')
          v.remove_prefix(1);
        if (!data.empty())
          data += '\n';
        data += v;
      } else if (line.empty() && !data.empty()) {
        rapidjson::Document d;
        d.Parse(data.data(), data.size());
        if (!d.HasParseError() && d.IsObject() && d.HasMember("id") && d["id"].IsInt() &&
            d["id"].GetInt() == id)
          return data;
        data.clear();
      }
      if (eol == std::string::npos)
        break;
      pos = eol + 1;
    }
    return Status::error(std::string(method) + ": the event stream ended without the answer");
  }

  Status notify(std::string_view method) {
    Answer a;
    Status st =
        request("POST", "{\"jsonrpc\":\"2.0\",\"method\":\"" + std::string(method) + "\"}", a);
    if (st.ok() && a.status >= 300)
      return Status::error(std::string(method) + ": HTTP " + std::to_string(a.status));
    return st;
  }

  void setProtocolVersion(std::string v) { version_ = std::move(v); }

private:
  Status request(const char* method, const std::string& body, Answer& a) {
    curl_easy_reset(curl_);
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json, text/event-stream");
    if (!sessionId_.empty())
      headers = curl_slist_append(headers, ("Mcp-Session-Id: " + sessionId_).c_str());
    if (!version_.empty())
      headers = curl_slist_append(headers, ("MCP-Protocol-Version: " + version_).c_str());
    curl_easy_setopt(curl_, CURLOPT_URL, o_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method);
    if (std::string_view(method) == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_USERAGENT, o_.userAgent.c_str());
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.timeout.count()));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, onBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, onHeader);
    curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &a);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK)
      return Status::error(std::string(method) + " " + o_.url + ": " + curl_easy_strerror(rc));
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &a.status);
    return {};
  }

  const ListerOptions& o_;
  CURL* curl_;
  std::string sessionId_;
  std::string version_;
};

// Why an answer nesting deeper than kMaxJsonNesting is refused: its parts are written out again
// with Accept(), which recurses once per level (common/json_text.h).
std::string nestingError(std::string_view method) {
  return std::string(method) + ": the answer nests arrays or objects more than " +
         std::to_string(kMaxJsonNesting) + " levels deep; the sidecar does not list such a server";
}

// `result` of a JSON-RPC answer, or the error it carries.
Result<const rapidjson::Value*> resultOf(const rapidjson::Document& d, std::string_view method) {
  if (d.HasParseError() || !d.IsObject())
    return Status::error(std::string(method) + ": the answer is not a JSON object");
  if (d.HasMember("error"))
    return Status::error(std::string(method) + ": the server answered with an error");
  if (!d.HasMember("result") || !d["result"].IsObject())
    return Status::error(std::string(method) + ": the answer has no result object");
  return &d["result"];
}

// Lists every page of `method` (tools/list, resources/list, prompts/list), appending the items
// of `member` as JSON to `out` (an array's text), and each page to `pages` when given.
Status listAll(Session& s, std::string_view method, const char* member, std::string& out, int& id,
               const std::function<void(const std::string&)>& pages = {}) {
  std::string items;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    auto answer = s.call(method, mcp::cursorParams(cursor), ++id);
    if (!answer.ok())
      return answer.status();
    if (pages)
      pages(*answer);
    if (jsonNestsDeeperThan(*answer))
      return Status::error(nestingError(method));
    rapidjson::Document d;
    d.Parse(answer->data(), answer->size());
    auto result = resultOf(d, method);
    if (!result.ok())
      return result.status();
    const rapidjson::Value& r = **result;
    if (r.HasMember(member) && r[member].IsArray())
      for (const auto& item : r[member].GetArray()) {
        rapidjson::StringBuffer b;
        rapidjson::Writer<rapidjson::StringBuffer> w(b);
        item.Accept(w);
        if (!items.empty())
          items += ',';
        items.append(b.GetString(), b.GetSize());
      }
    if (!r.HasMember("nextCursor") || !r["nextCursor"].IsString()) {
      out = "[" + items + "]";
      return {};
    }
    cursor = r["nextCursor"].GetString();
  }
  return Status::error(std::string(method) + ": more than 1000 pages");
}

} // namespace

HttpLister::HttpLister(ListerOptions options) : options_(std::move(options)) {}

HttpLister::~HttpLister() {
  stop();
}

Result<Listing> HttpLister::listOnce(const ListerOptions& o) {
  Session s(o);
  Listing out;
  int id = 0;
  auto init = s.call("initialize",
                     "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
                     "\"name\":\"mcp-sidecar\",\"version\":\"" +
                         o.version + "\"}}",
                     ++id);
  if (!init.ok())
    return init.status();
  if (jsonNestsDeeperThan(*init))
    return Status::error(nestingError("initialize"));
  rapidjson::Document d;
  d.Parse(init->data(), init->size());
  auto result = resultOf(d, "initialize");
  if (!result.ok())
    return result.status();
  const rapidjson::Value& r = **result;
  {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    r.Accept(w);
    out.initializeResult.assign(b.GetString(), b.GetSize());
  }
  if (r.HasMember("protocolVersion") && r["protocolVersion"].IsString())
    s.setProtocolVersion(r["protocolVersion"].GetString());
  if (Status st = s.notify("notifications/initialized"); !st.ok())
    return st;
  const rapidjson::Value* caps =
      r.HasMember("capabilities") && r["capabilities"].IsObject() ? &r["capabilities"] : nullptr;
  if (caps && caps->HasMember("tools")) {
    Status st = listAll(s, "tools/list", "tools", out.tools, id, [&](const std::string& page) {
      if (out.manifestError.empty())
        if (Status a = out.manifest.addPage(page); !a.ok())
          out.manifestError = a.message();
    });
    if (!st.ok())
      return st;
  }
  // Drift reads each page as it came, as for tools.
  auto lister = [&s, &id](const drift::ListKind& kind, std::string& items,
                          std::optional<drift::DefinitionManifest>& manifest,
                          std::string& error) -> Status {
    manifest.emplace(kind);
    return listAll(s, kind.method, std::string(kind.member).c_str(), items, id,
                   [&](const std::string& page) {
                     if (error.empty())
                       if (Status a = manifest->addPage(page); !a.ok())
                         error = a.message();
                   });
  };
  if (caps && caps->HasMember("resources"))
    if (Status st = lister(drift::kResourceList, out.resources, out.resourceManifest,
                           out.resourceManifestError);
        !st.ok())
      return st;
  if (caps && caps->HasMember("prompts"))
    if (Status st =
            lister(drift::kPromptList, out.prompts, out.promptManifest, out.promptManifestError);
        !st.ok())
      return st;
  return out;
}

void HttpLister::start() {
  thread_ = std::thread([this] { run(); });
}

void HttpLister::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void HttpLister::refreshNow() {
  {
    std::lock_guard<std::mutex> g(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

namespace {
constexpr std::chrono::milliseconds kMinSpacing{500};
} // namespace

void HttpLister::run() {
  std::chrono::milliseconds retry(1000);
  bool failing = false;
  for (;;) {
    auto started = std::chrono::steady_clock::now();
    auto listing = listOnce(options_);
    std::chrono::milliseconds wait = options_.refresh;
    if (listing.ok()) {
      if (failing)
        log::info("the upstream's tools are listed again", {{"upstream", options_.url}});
      failing = false;
      retry = std::chrono::milliseconds(1000);
      if (options_.onListing)
        options_.onListing(*listing);
    } else {
      if (!failing)
        log::warn("cannot list the upstream's tools yet (capabilities document, drift); retrying",
                  {{"upstream", options_.url}, {"error", listing.error()}});
      failing = true;
      wait = retry;
      retry = std::min(retry * 2, std::chrono::milliseconds(30000));
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stop_ || poked_; });
    if (stop_)
      return;
    if (poked_) {
      // Every tools/list a client makes pokes: at most one listing per kMinSpacing, so that busy
      // clients cannot make the sidecar list without pause (a poke is delayed, never lost).
      auto earliest = started + std::min(kMinSpacing, options_.refresh);
      cv_.wait_until(lock, earliest, [this] { return stop_; });
      if (stop_)
        return;
    }
    poked_ = false;
  }
}

} // namespace sidecar::discovery
