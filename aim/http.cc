#include "aim/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cctype>
#include <mutex>
#include <utility>
#include <vector>

namespace sidecar::aim {

struct HttpClient::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  HttpResponse response;
  Callback done;
  size_t maxBytes = 0;
  bool overflow = false;
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

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

} // namespace

std::string HttpResponse::header(std::string_view lowerName) const {
  auto it = headers.find(std::string(lowerName));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {}

Result<HttpClientPtr> HttpClient::create(HttpOptions options) {
  std::call_once(gCurlInit, [] { gCurlInitResult = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (gCurlInitResult != CURLE_OK)
    return Status::error(std::string("libcurl cannot be initialised: ") +
                         curl_easy_strerror(gCurlInitResult));
  if (!options.caFile.empty() && ::access(options.caFile.c_str(), R_OK) != 0)
    return Status::error("--aim-ca-file " + options.caFile + " cannot be read");
  HttpClientPtr client(new HttpClient(std::move(options)));
  client->multi_ = curl_multi_init();
  if (client->multi_ == nullptr)
    return Status::error("libcurl: curl_multi_init failed");
  return client;
}

HttpClient::~HttpClient() {
  auto* multi = static_cast<CURLM*>(multi_);
  for (auto& [easy, t] : transfers_)
    curl_multi_remove_handle(multi, static_cast<CURL*>(easy));
  transfers_.clear();
  if (multi != nullptr)
    curl_multi_cleanup(multi);
}

void HttpClient::start(HttpRequest request, Callback done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  t->maxBytes = options_.maxResponseBytes;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    // Reported through the callback on the next poll(), as any other failure.
    t->response.error = "libcurl: curl_easy_init failed";
    t->response.maybeDelivered = false;
    pendingFailures_.emplace_back(std::move(t->done), std::move(t->response));
    return;
  }
  t->easy = easy;
  const HttpRequest& req = t->request;
  curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.caFile.empty())
    curl_easy_setopt(easy, CURLOPT_CAINFO, options_.caFile.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connectTimeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.requestTimeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.userAgent.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errorBuffer);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  if (req.freshConnection) {
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }

  curl_slist* h = nullptr;
  h = curl_slist_append(h, "Accept: application/json");
  // No "Expect: 100-continue" round trip.
  h = curl_slist_append(h, "Expect:");
  if (req.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    // libcurl would add a form Content-Type; a body-less POST sends none.
    h = curl_slist_append(h, req.body.empty() ? "Content-Type:" : "Content-Type: application/json");
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }
  for (const auto& [name, value] : req.headers)
    h = curl_slist_append(h, (name + ": " + value).c_str());
  t->headers = h;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);

  curl_easy_setopt(
      easy, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
        auto* tr = static_cast<Transfer*>(user);
        size_t n = size * count;
        if (tr->response.body.size() + n > tr->maxBytes) {
          tr->overflow = true;
          return size_t{0}; // aborts the transfer
        }
        tr->response.body.append(data, n);
        return n;
      });
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(
      easy, CURLOPT_HEADERFUNCTION, +[](char* data, size_t size, size_t count, void* user) {
        auto* tr = static_cast<Transfer*>(user);
        size_t n = size * count;
        std::string_view line(data, n);
        if (line.rfind("HTTP/", 0) == 0) {
          // A new response head (after a 1xx, say): forget the previous one's headers.
          tr->response.headers.clear();
        } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
          std::string name(line.substr(0, colon));
          for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          tr->response.headers[trim(name)] = trim(line.substr(colon + 1));
        }
        return n;
      });
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());

  CURLMcode mc = curl_multi_add_handle(static_cast<CURLM*>(multi_), easy);
  if (mc != CURLM_OK) {
    HttpResponse r;
    r.error = std::string("libcurl: ") + curl_multi_strerror(mc);
    r.maybeDelivered = false;
    pendingFailures_.emplace_back(std::move(t->done), std::move(r));
    return;
  }
  transfers_[easy] = std::move(t);
}

void HttpClient::poll(std::chrono::milliseconds timeout) {
  auto* multi = static_cast<CURLM*>(multi_);
  int running = 0;
  if (pendingFailures_.empty()) {
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(timeout.count()), nullptr);
  }
  curl_multi_perform(multi, &running);

  std::vector<std::pair<Callback, HttpResponse>> finished;
  finished.swap(pendingFailures_);
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL* easy = msg->easy_handle;
    CURLcode code = msg->data.result;
    curl_multi_remove_handle(multi, easy);
    auto it = transfers_.find(easy);
    if (it == transfers_.end())
      continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers_.erase(it);
    HttpResponse& r = t->response;
    if (code == CURLE_OK) {
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      r.status = static_cast<int>(status);
      r.maybeDelivered = true;
    } else {
      r.status = 0;
      if (t->overflow)
        r.error = "the answer is longer than " + std::to_string(t->maxBytes) + " bytes";
      else
        r.error = std::string(curl_easy_strerror(code)) +
                  (t->errorBuffer[0] != '\0' ? std::string(": ") + t->errorBuffer : "");
      long sent = 0;
      curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
      r.maybeDelivered = sent > 0 && code != CURLE_COULDNT_CONNECT &&
                         code != CURLE_COULDNT_RESOLVE_HOST && code != CURLE_SSL_CONNECT_ERROR &&
                         code != CURLE_PEER_FAILED_VERIFICATION;
    }
    finished.emplace_back(std::move(t->done), std::move(r));
  }
  for (auto& [cb, resp] : finished)
    if (cb)
      cb(std::move(resp));
}

void HttpClient::wakeup() {
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

size_t HttpClient::active() const {
  return transfers_.size();
}

} // namespace sidecar::aim
