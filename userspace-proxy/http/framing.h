// Building blocks shared by the request and response parsers: a resumable scanner for a
// block of header field lines (a head or a trailer section) and a body decoder for
// Content-Length and chunked bodies. Most callers want RequestParser/ResponseParser.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "userspace-proxy/http/message.h"

namespace xgate::http {

// Scans "start-line CRLF *(field-line CRLF) CRLF" (or, without a start line, a trailer
// section) strictly per RFC 9112, resumable at any byte boundary. The caller may move its
// buffer between calls as long as the bytes from the block's start stay the same: the
// fields found so far are views, moved along when a call's input starts elsewhere (rare).
class FieldBlockScanner {
 public:
  struct Config {
    bool has_start_line = true;
    size_t max_start_line = 8 * 1024;
    size_t max_bytes = 64 * 1024;
    size_t max_fields = 100;
    ParseError start_line_too_long = ParseError::kRequestLineTooLong;
    ParseError too_large = ParseError::kHeadTooLarge;
    ParseError too_many = ParseError::kTooManyHeaders;
  };
  enum class Result : uint8_t { kNeedMore, kDone, kError };

  explicit FieldBlockScanner(const Config& config);

  // `input` starts at the first byte of the block.
  Result Scan(std::string_view input);
  // After kDone: the block's size (terminating empty line included), its start line (without
  // CRLF) and its fields as views into `input`, which must be the bytes passed to Scan().
  // The fields stay valid until the next Scan() or Reset().
  size_t block_size() const { return block_size_; }
  std::string_view start_line(std::string_view input) const;
  std::span<const HeaderView> fields() const { return fields_; }
  ParseError error() const { return error_; }
  // True once any byte of the block has been scanned.
  bool started() const { return scan_pos_ > 0; }
  void Reset();

 private:
  Result Fail(ParseError error);
  ParseError AddField(std::string_view input, size_t begin, size_t end);
  // The LF ending the field line at line_start_ when that line is complete and valid (its
  // field then added), else 0.
  size_t ScanWellFormedLine(std::string_view input);
  void PushField(std::string_view input, size_t begin, size_t name_end, size_t value_begin,
                 size_t value_end);

  Config config_;
  size_t scan_pos_ = 0;    // next byte to search for LF
  size_t line_start_ = 0;  // first byte of the line being scanned
  size_t start_line_end_ = 0;
  size_t block_size_ = 0;
  bool start_line_done_ = false;
  ParseError error_ = ParseError::kNone;
  // Views into the input of the last Scan() call, which began at base_.
  std::vector<HeaderView> fields_;  // capacity reserved once
  const char* base_ = nullptr;
};

// Delimits a body: Content-Length, chunked (extensions tolerated, trailers parsed and
// bounded), or until the connection closes. Never buffers body bytes.
class BodyDecoder {
 public:
  explicit BodyDecoder(const Limits& limits);

  void Start(BodyFraming framing, uint64_t content_length);
  // Next step over `input` (kNeedMore, kBodyData, kMessageComplete or kError).
  Step Decode(std::string_view input);
  // The peer closed: kMessageComplete for an until-close body, else kError (kUnexpectedEof).
  Step Eof();
  // Trailer fields, as views into the input of the Decode() call that completed the message.
  const std::vector<HeaderView>& trailers() const { return trailers_; }
  ParseError error() const { return error_; }
  bool done() const { return state_ == State::kDone; }
  void Reset();

 private:
  enum class State : uint8_t {
    kDone,
    kLength,
    kUntilClose,
    kChunkSize,
    kChunkSizeWs,
    kChunkExt,
    kChunkSizeLf,
    kChunkData,
    kChunkDataCr,
    kChunkDataLf,
    kTrailers,
    kFailed,
  };
  Step Fail(ParseError error);
  Step DecodeChunked(std::string_view input);

  State state_ = State::kDone;
  ParseError error_ = ParseError::kNone;
  uint64_t remaining_ = 0;
  uint64_t chunk_size_ = 0;
  size_t size_digits_ = 0;
  size_t size_line_bytes_ = 0;
  FieldBlockScanner trailer_scanner_;
  std::vector<HeaderView> trailers_;  // capacity reserved once
};

// The message-level state both parsers share: a head, then its body, then the next message
// (pipelining); an error sticks. The parsers supply the head parsing: ParseHead scans with
// scanner() and, on success, calls StartBody.
class MessageFramer {
 public:
  MessageFramer(const FieldBlockScanner::Config& head, const Limits& limits)
      : scanner_(head), body_(limits) {}

  template <typename ParseHead>
  Step Parse(std::string_view input, ParseHead&& parse_head) {
    switch (state_) {
      case State::kFailed:
        return Step{StepKind::kError, 0, {}};
      case State::kHead:
        return parse_head(input);
      case State::kBody:
        return AfterBody(body_.Decode(input));
    }
    return Step{StepKind::kError, 0, {}};
  }
  // What a parser's interpretation of a complete head says.
  struct HeadResult {
    ParseError error = ParseError::kNone;
    BodyFraming framing = BodyFraming::kNone;
    uint64_t content_length = 0;
  };
  // Scans the head at the start of `block` (`skip` bytes after the caller's input start);
  // once complete (its fields in scanner().fields()), asks `interpret(block)` for a
  // HeadResult and starts the body it frames.
  template <typename Interpret>
  Step ScanHead(std::string_view block, size_t skip, Interpret&& interpret) {
    switch (scanner_.Scan(block)) {
      case FieldBlockScanner::Result::kNeedMore:
        return Step{StepKind::kNeedMore, skip, {}};
      case FieldBlockScanner::Result::kError:
        return Fail(scanner_.error());
      case FieldBlockScanner::Result::kDone:
        break;
    }
    HeadResult head = interpret(block);
    if (head.error != ParseError::kNone) return Fail(head.error);
    StartBody(head.framing, head.content_length);
    return Step{StepKind::kHeadComplete, skip + scanner_.block_size(), {}};
  }
  // The peer closed: kMessageComplete for an until-close body, kNeedMore between messages,
  // else kError (kUnexpectedEof).
  Step OnEof();
  Step Fail(ParseError error);
  void StartBody(BodyFraming framing, uint64_t content_length);
  void Reset();

  FieldBlockScanner& scanner() { return scanner_; }
  const std::vector<HeaderView>& trailers() const { return body_.trailers(); }
  ParseError error() const { return error_; }
  bool in_body() const { return state_ == State::kBody; }

 private:
  enum class State : uint8_t { kHead, kBody, kFailed };
  Step AfterBody(Step step);  // a body step: sticks on error, back to a head when complete

  State state_ = State::kHead;
  ParseError error_ = ParseError::kNone;
  FieldBlockScanner scanner_;
  BodyDecoder body_;
};

}  // namespace xgate::http
