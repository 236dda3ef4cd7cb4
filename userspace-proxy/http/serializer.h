// Writes message heads and body framing toward a peer (requests upstream, responses
// downstream). Hop-by-hop fields are the caller's to strip (StripHopByHop) before writing.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "userspace-proxy/http/message.h"

namespace xgate::http {

// Removes the hop-by-hop fields (IsHopByHop, message.h) and every field named in a
// Connection header.
void StripHopByHop(HeaderMap& headers);

// Appends "METHOD path HTTP/1.1\r\nHost: host\r\n<headers>\r\n". The body framing field
// (Content-Length or "Transfer-Encoding: chunked") must already be among the headers.
void AppendRequestHead(const RequestHead& head, std::string* out);

// Appends "HTTP/1.1 status reason\r\n<headers><framing>\r\n" (a standard reason phrase when
// head.reason is empty). `framing`: whole field lines ("Name: value\r\n") written after the
// headers as they are, for fields the caller knows the headers do not hold.
void AppendResponseHead(const ResponseHead& head, std::string* out, std::string_view framing = {});

// The standard reason phrase for a status code ("Unknown" when there is none).
std::string_view ReasonPhrase(int status);

// Chunked transfer coding: one chunk per call ("" writes nothing: an empty chunk would end
// the body), then the last chunk with optional trailer fields.
void AppendChunk(std::string_view data, std::string* out);
void AppendLastChunk(std::span<const Header> trailers, std::string* out);

// A complete small response (error pages, redirects): status line, the given headers,
// Content-Length, and the body. `close` adds "Connection: close".
std::string MakeSimpleResponse(int status, std::span<const Header> headers, std::string_view body,
                               bool close);

}  // namespace xgate::http
