#include "connect/http_client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace sidecar::connect {

struct HttpEngine::Transfer {
  TransferId id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpHandlers handlers;
  HttpHead head;
  bool headDone = false;
  bool aborted = false;
  char errorBuffer[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (easy != nullptr)
      curl_easy_cleanup(easy);
    if (headers != nullptr)
      curl_slist_free_all(headers);
  }
};

namespace {

std::once_flag gCurlInit;
CURLcode gCurlInitResult = CURLE_OK;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// libcurl's words for a failed transfer, and for the TLS failures what to do about them: curl
// says what failed ("unable to get local issuer certificate"), not that --ca-file is the fix.
std::string transferError(CURLcode code, const char* buffer, const std::string& caFile) {
  std::string detail = buffer[0] != 0 ? buffer : curl_easy_strerror(code);
  switch (code) {
  case CURLE_PEER_FAILED_VERIFICATION:
    if (detail.find("host name") != std::string::npos ||
        detail.find("Hostname") != std::string::npos)
      return std::string(kTlsErrorPrefix) +
             "the server's certificate is not valid for the URL's host (" + detail +
             "); use the host name the certificate was issued for, or give the server a "
             "certificate for this one";
    if (caFile.empty())
      return std::string(kTlsErrorPrefix) + "the server's certificate is not trusted (" + detail +
             "); when a private CA signed it, give that CA's certificate with --ca-file FILE "
             "(without it, the system's CA store is used)";
    return std::string(kTlsErrorPrefix) + "the server's certificate is not trusted by --ca-file " +
           caFile + " (" + detail + "); give the CA that signed it";
  case CURLE_SSL_CACERT_BADFILE:
    return std::string(kTlsErrorPrefix) + "--ca-file " + caFile +
           " cannot be used as a CA bundle (" + detail + "); give a PEM file of CA certificates";
  case CURLE_SSL_CONNECT_ERROR:
    return std::string(kTlsErrorPrefix) + "the TLS handshake failed (" + detail +
           "); check that the URL's port serves HTTPS (http:// for a plain HTTP server)";
  default:
    return detail;
  }
}

} // namespace

std::string HttpHead::header(std::string_view lowerName) const {
  for (const auto& [n, v] : headers)
    if (n == lowerName)
      return v;
  return {};
}

size_t HttpHead::count(std::string_view lowerName) const {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                           [&](const auto& h) { return h.first == lowerName; }));
}

HttpEngine::HttpEngine(HttpOptions options) : options_(std::move(options)) {}

Result<HttpEnginePtr> HttpEngine::create(HttpOptions options) {
  std::call_once(gCurlInit, [] { gCurlInitResult = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (gCurlInitResult != CURLE_OK)
    return Status::error(std::string("libcurl cannot be initialised: ") +
                         curl_easy_strerror(gCurlInitResult));
  if (!options.caFile.empty() && ::access(options.caFile.c_str(), R_OK) != 0)
    return Status::error("--ca-file " + options.caFile + " cannot be read");
  HttpEnginePtr engine(new HttpEngine(std::move(options)));
  engine->multi_ = curl_multi_init();
  if (engine->multi_ == nullptr)
    return Status::error("libcurl: curl_multi_init failed");
  return engine;
}

HttpEngine::~HttpEngine() {
  auto* multi = static_cast<CURLM*>(multi_);
  for (auto& [id, t] : transfers_)
    curl_multi_remove_handle(multi, t->easy);
  transfers_.clear();
  toStart_.clear();
  if (multi != nullptr)
    curl_multi_cleanup(multi);
}

HttpEngine::TransferId HttpEngine::start(HttpRequest request, HttpHandlers handlers) {
  auto t = std::make_unique<Transfer>();
  t->id = nextId_++;
  t->request = std::move(request);
  t->handlers = std::move(handlers);
  TransferId id = t->id;
  toStart_.push_back(std::move(t));
  return id;
}

void HttpEngine::cancel(TransferId id) {
  auto pending =
      std::find_if(toStart_.begin(), toStart_.end(), [id](const auto& t) { return t->id == id; });
  if (pending != toStart_.end() || transfers_.count(id) != 0)
    toCancel_.push_back(id);
}

void HttpEngine::runAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  timers_.emplace(std::chrono::steady_clock::now() + delay, std::move(fn));
}

void HttpEngine::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> g(postedMutex_);
    posted_.push_back(std::move(fn));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void HttpEngine::addPending() {
  std::vector<std::unique_ptr<Transfer>> batch;
  batch.swap(toStart_);
  for (auto& t : batch) {
    t->easy = curl_easy_init();
    if (t->easy == nullptr) {
      finish(*t, "libcurl: curl_easy_init failed");
      continue;
    }
    CURL* easy = t->easy;
    const HttpRequest& req = t->request;
    curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    // Never followed: the signature binds the request-target, and a redirect elsewhere is a
    // misconfigured URL the user should see.
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.caFile.empty())
      curl_easy_setopt(easy, CURLOPT_CAINFO, options_.caFile.c_str());
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connectTimeout.count()));
    if (req.timeout.count() > 0)
      curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
    // An SSE stream may be quiet for long: keep-alive probes notice a dead peer.
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.userAgent.c_str());
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errorBuffer);
    // No Accept-Encoding: answer signatures cover the body as sent, which is what arrives.

    curl_slist* h = curl_slist_append(nullptr, "Expect:");
    if (req.method == "POST") {
      curl_easy_setopt(easy, CURLOPT_POST, 1L);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
      if (req.method != "GET")
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    for (const auto& [name, value] : req.headers)
      h = curl_slist_append(h, (name + ": " + value).c_str());
    t->headers = h;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);

    curl_easy_setopt(
        easy, CURLOPT_HEADERFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
          auto* tr = static_cast<Transfer*>(user);
          size_t n = size * count;
          std::string_view line(data, n);
          if (tr->headDone)
            return n; // trailers
          if (line.rfind("HTTP/", 0) == 0) {
            tr->head.headers.clear(); // a new head (after a 1xx)
            return n;
          }
          if (trim(line).empty()) {
            long status = 0;
            curl_easy_getinfo(tr->easy, CURLINFO_RESPONSE_CODE, &status);
            if (status < 200)
              return n; // a 1xx head ends; the real one follows
            tr->head.status = static_cast<int>(status);
            tr->headDone = true;
            if (tr->handlers.onHead && !tr->handlers.onHead(tr->head)) {
              tr->aborted = true;
              return size_t{0};
            }
            return n;
          }
          size_t colon = line.find(':');
          if (colon != std::string_view::npos) {
            std::string name(trim(line.substr(0, colon)));
            for (char& c : name)
              c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            tr->head.headers.emplace_back(std::move(name),
                                          std::string(trim(line.substr(colon + 1))));
          }
          return n;
        });
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(
        easy, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
          auto* tr = static_cast<Transfer*>(user);
          size_t n = size * count;
          if (tr->handlers.onBody && !tr->handlers.onBody(std::string_view(data, n))) {
            tr->aborted = true;
            return size_t{0};
          }
          return n;
        });
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());

    CURLMcode mc = curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
    if (mc != CURLM_OK) {
      finish(*t, std::string("libcurl: ") + curl_multi_strerror(mc));
      continue;
    }
    TransferId id = t->id;
    transfers_[id] = std::move(t);
  }
}

void HttpEngine::finish(Transfer& t, const std::string& error) {
  auto done = std::move(t.handlers.onDone);
  t.handlers = HttpHandlers{};
  if (done)
    done(error);
}

void HttpEngine::collectDone() {
  auto* multi = static_cast<CURLM*>(multi_);
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi, easy);
    std::unique_ptr<Transfer> t;
    for (auto it = transfers_.begin(); it != transfers_.end(); ++it)
      if (it->second->easy == easy) {
        t = std::move(it->second);
        transfers_.erase(it);
        break;
      }
    if (!t)
      continue;
    std::string error;
    if (t->aborted)
      error = "aborted";
    else if (code != CURLE_OK)
      error = transferError(code, t->errorBuffer, options_.caFile);
    else if (!t->headDone)
      error = "the connection closed before a response";
    finish(*t, error);
  }
}

void HttpEngine::run() {
  auto* multi = static_cast<CURLM*>(multi_);
  stopped_ = false;
  while (!stopped_) {
    std::deque<std::function<void()>> posted;
    {
      std::lock_guard<std::mutex> g(postedMutex_);
      posted.swap(posted_);
    }
    for (auto& fn : posted)
      fn();
    auto now = std::chrono::steady_clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      auto fn = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      fn();
    }
    std::vector<TransferId> cancels;
    cancels.swap(toCancel_);
    for (TransferId id : cancels) {
      auto pending = std::find_if(toStart_.begin(), toStart_.end(),
                                  [id](const auto& t) { return t->id == id; });
      if (pending != toStart_.end()) {
        std::unique_ptr<Transfer> t = std::move(*pending);
        toStart_.erase(pending);
        finish(*t, "cancelled");
        continue;
      }
      auto it = transfers_.find(id);
      if (it == transfers_.end())
        continue;
      std::unique_ptr<Transfer> t = std::move(it->second);
      transfers_.erase(it);
      curl_multi_remove_handle(multi, t->easy);
      finish(*t, "cancelled");
    }
    if (stopped_)
      break;
    addPending();
    int running = 0;
    curl_multi_perform(multi, &running);
    collectDone();
    if (stopped_)
      break;

    long wait = 1000;
    long curlWait = -1;
    if (curl_multi_timeout(multi, &curlWait) == CURLM_OK && curlWait >= 0)
      wait = std::min(wait, curlWait);
    if (!timers_.empty()) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
                       timers_.begin()->first - std::chrono::steady_clock::now())
                       .count();
      wait = std::min<long>(wait, std::max<long>(0, static_cast<long>(until)));
    }
    if (!toStart_.empty() || !toCancel_.empty())
      wait = 0;
    {
      std::lock_guard<std::mutex> g(postedMutex_);
      if (!posted_.empty())
        wait = 0;
    }
    if (wait > 0)
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
  }
}

} // namespace sidecar::connect
