#pragma once
// Status and Result<T>: fallible calls return these instead of throwing (no exceptions on the
// request path). A Status carries a human message that names what is wrong and how to fix it.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sidecar {

class Status {
public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename T> class Result {
public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Status& status() const { return std::get<1>(v_); }
  const std::string& error() const { return std::get<1>(v_).message(); }

private:
  std::variant<T, Status> v_;
};

} // namespace sidecar
